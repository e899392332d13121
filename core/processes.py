"""Facts about other processes on this machine."""

from __future__ import annotations

import os


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs (another user's counts: it may not be
    signalled, but it is there). Files named after a dead process's id are left-overs
    of a killed run that the next run may remove."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

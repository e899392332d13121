"""Asking a server whether it answers, for at most a few seconds.

Clients of remote services (W&B, an MLflow tracking server) retry for minutes before
they give up on a server that is down or unreachable. A study asks first, with this
bounded probe, and decides at once: run offline, or stop with a one-line error.
"""

from __future__ import annotations

import threading


def server_problem(url: str, timeout: float) -> str | None:
    """None when the server at ``url`` answers (with any HTTP status) within ``timeout``
    seconds, else why not. The request runs on a daemon thread, so a name lookup that
    hangs cannot hold the caller longer than ``timeout``."""
    import urllib.error
    import urllib.request

    outcome: list[str | None] = []

    def ask() -> None:
        try:
            with urllib.request.urlopen(
                urllib.request.Request(url, method="HEAD"), timeout=timeout
            ):
                outcome.append(None)
        except urllib.error.HTTPError:
            outcome.append(None)  # it answered
        except Exception as exc:
            reason = getattr(exc, "reason", exc)
            outcome.append(str(reason) or type(reason).__name__)

    thread = threading.Thread(target=ask, name="hyperplug-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else f"no answer within {timeout:g} s"

"""Starting W&B runs the way hyperplug needs them, and the offline sync hint.

``wandb`` is imported here, lazily: importing it costs about half a second. Runs are
created with ``reinit="create_new"`` (wandb >= 0.19), so one process holds several runs
at once (the trials of a study, a model version's run) without finishing the others.
Nothing that could hold a secret is collected: no console capture (``console="off"``),
no command line, environment or git metadata (``x_disable_meta``), no system stats,
no code, no requirements file.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

_hinted: set[str] = set()
_hint_lock = threading.Lock()


def start_run(
    *,
    mode: str,
    directory: str,
    project: str,
    entity: str | None,
    **init_kwargs: Any,
) -> Any:
    """``wandb.init`` for one run in ``mode`` writing under ``directory``."""
    import wandb

    Path(directory).mkdir(parents=True, exist_ok=True)
    settings = wandb.Settings(
        mode=mode,
        console="off",
        silent=True,
        x_disable_meta=True,
        x_disable_stats=True,
        x_disable_machine_info=True,
        x_save_requirements=False,
        disable_git=True,
        save_code=False,
        disable_job_creation=True,
    )
    return wandb.init(
        project=project,
        entity=entity,
        dir=directory,
        settings=settings,
        reinit="create_new",
        **init_kwargs,
    )


def print_sync_hint(mode: str, directory: str) -> None:
    """Say once per process and directory how to upload offline runs later."""
    if mode != "offline":
        return
    runs = Path(directory).absolute() / "wandb"
    with _hint_lock:
        if str(runs) in _hinted:
            return
        _hinted.add(str(runs))
    sys.stderr.write(
        f"hyperplug: W&B ran offline; upload its runs later with: wandb sync {runs}/offline-run-*\n"
    )

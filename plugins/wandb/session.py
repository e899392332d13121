"""Starting W&B runs the way hyperplug needs them: the mode, the runs, the sync hint.

``wandb`` is imported here, lazily: importing it costs about half a second. Runs are
created with ``reinit="create_new"`` (wandb >= 0.19), so one process holds several runs
at once (the trials of a study, a model version's run) without finishing the others.
Nothing that could hold a secret is collected: no console capture (``console="off"``),
no command line, environment or git metadata (``x_disable_meta``), no system stats,
no code, no requirements file; the names and tags given to W&B are masked.

``mode=auto`` with an API key means online, but W&B without a network blocks for about
90 s before it gives up: ``decide_mode`` asks the W&B server first (at most
``PROBE_TIMEOUT_S``) and runs offline, saying so once, when it does not answer.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hyperplug.netprobe import server_problem
from hyperplug.plugins.wandb.configs import resolve_mode
from hyperplug.secrets import redact_text

#: how long ``mode=auto`` waits for the W&B server before it runs offline
PROBE_TIMEOUT_S = 3.0

_lock = threading.Lock()
_hinted: set[str] = set()
#: W&B server URL -> why it did not answer (None: it did), asked once per process
_probed: dict[str, str | None] = {}


def decide_mode(mode: str, environ: Mapping[str, str] | None = None) -> str:
    """The mode to run W&B in: ``resolve_mode``, except that an ``auto`` that means online
    only because an API key is set turns offline, with one line on stderr saying why,
    when the W&B server does not answer within ``PROBE_TIMEOUT_S``."""
    environ = os.environ if environ is None else environ
    resolved = resolve_mode(mode, environ)
    if mode != "auto" or resolved != "online" or environ.get("WANDB_MODE"):
        return resolved
    url = server_url(environ)
    with _lock:
        if url not in _probed:
            _probed[url] = server_problem(url, PROBE_TIMEOUT_S)
            if _probed[url] is not None:
                sys.stderr.write(
                    f"hyperplug: W&B server {url} did not answer ({_probed[url]}); "
                    "W&B runs offline (tracker.mode/vcs.mode=auto)\n"
                )
        return "offline" if _probed[url] is not None else "online"


def server_url(environ: Mapping[str, str]) -> str:
    """The W&B server the runs would go to, as W&B finds it (settings files, then
    ``WANDB_BASE_URL``)."""
    import wandb

    settings = wandb.Settings(silent=True)
    settings.update_from_system_settings()
    settings.update_from_env_vars(dict(environ))
    return str(settings.base_url)


def start_run(
    *,
    mode: str,
    directory: str,
    project: str,
    entity: str | None,
    tags: list[str] | tuple[str, ...] = (),
    **init_kwargs: Any,
) -> Any:
    """``wandb.init`` for one run in ``mode`` writing under ``directory``; the project,
    entity, tags and string arguments (group, name, job type) masked."""
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
    named = {k: redact_text(v) if isinstance(v, str) else v for k, v in init_kwargs.items()}
    return wandb.init(
        project=redact_text(project),
        entity=None if entity is None else redact_text(entity),
        tags=mask_tags(tags),
        dir=directory,
        settings=settings,
        reinit="create_new",
        **named,
    )


def mask_tags(tags: list[str] | tuple[str, ...]) -> list[str]:
    return [redact_text(tag) for tag in tags]


def print_sync_hint(mode: str, directory: str) -> None:
    """Say once per process and directory how to upload the offline runs written there
    (nothing when there are none: a mirror that failed before its first run)."""
    if mode != "offline":
        return
    runs = Path(directory).absolute() / "wandb"
    with _lock:
        if str(runs) in _hinted or not any(runs.glob("offline-run-*")):
            return
        _hinted.add(str(runs))
    sys.stderr.write(
        f"hyperplug: W&B ran offline; upload its runs later with: wandb sync {runs}/offline-run-*\n"
    )

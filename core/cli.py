"""The ``hyperplug`` console script.

``hyperplug [OVERRIDES]`` is the Hydra app (``--multirun``, ``--help``, ``--cfg job``
work as in any Hydra app); ``hyperplug update [OVERRIDES]`` is the same app choosing an
updater (``updater=er`` unless the overrides name one), so the run updates ``model=``
on the configured data; a first word naming an inspection command (``plugins``,
``studies``, ``study``, ``models``, ``model``, ``drift``) runs that command instead.
"""

from __future__ import annotations

import os
import sys
import threading

INSPECTION_COMMANDS = ("plugins", "studies", "study", "models", "model", "drift")
#: the updater ``hyperplug update`` chooses when the overrides name none
DEFAULT_UPDATER = "er"


def main(argv: list[str] | None = None) -> None:
    from hyperplug.secrets import redacted_terminal

    try:
        with redacted_terminal():  # secrets never reach the terminal, on any path
            _main(argv)
    except KeyboardInterrupt:  # a study run says more on its way out (user_errors_exit)
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        sys.stderr.write("hyperplug: interrupted\n")
        sys.exit(130)


def _main(argv: list[str] | None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = any(a in ("-v", "--verbose") for a in args)
    args = [a for a in args if a not in ("-v", "--verbose")]
    if verbose:
        os.environ["HYDRA_FULL_ERROR"] = "1"
    from hyperplug.plugin_manager import warn_on_stderr

    warn_on_stderr()
    if args and args[0] in INSPECTION_COMMANDS:
        from hyperplug.commands import run_command

        sys.exit(run_command(args[0], args[1:]))
    if args and args[0] == "update":
        args = args[1:]
        if not any(a.lstrip("+~").split("=", 1)[0] == "updater" for a in args):
            args = [f"updater={DEFAULT_UPDATER}", *args]
    from hyperplug.help import print_help, wants_app_help

    if wants_app_help(args):
        print_help(args)
        return
    from hyperplug.hydra_app import run_app

    run_app(args)
    # the console script, after a run that went well, with no thread left that the
    # interpreter's shutdown would wait for (a launcher's executor)
    if argv is None and threading.active_count() == 1:
        exit_at_once()


def exit_at_once() -> None:
    """End the process without tearing the interpreter down: with Hydra, Syne Tune,
    scikit-learn and matplotlib loaded that takes 0.5-1.5 s here, and nothing is left to
    do. Output is flushed and exit handlers (logging, wandb, multiprocessing) still run."""
    import atexit

    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()

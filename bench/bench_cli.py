"""Wall time of ``hyperplug --help`` against a minimal Hydra app's ``--help``.

Both run as fresh processes in this script, alternating, so machine load hits both.
The minimal app is the floor any Hydra CLI pays (interpreter + hydra + compose); the
ratio shows what hyperplug's plugin loading and config registration add. Goal: hyperplug
under 1.5 s and no torch import.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPEATS = 7
HYPERPLUG = str(Path(sys.executable).parent / "hyperplug")

MINIMAL_APP = textwrap.dedent(
    """
    import hydra

    @hydra.main(version_base="1.3", config_path=None, config_name=None)
    def app(cfg):
        pass

    app()
    """
)

TORCH_PROBE = (
    "import sys\nfrom hyperplug.cli import main\nsys.argv = ['hyperplug', '--help']\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\nprint('torch' in sys.modules)\n"
)


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "minimal_app.py"
        app.write_text(MINIMAL_APP)
        commands = {
            "hyperplug --help": [HYPERPLUG, "--help"],
            "minimal Hydra app --help": [sys.executable, str(app), "--help"],
        }
        for command in commands.values():  # warm the file cache
            wall(command)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(REPEATS):
            for name, command in commands.items():
                times[name].append(wall(command))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(f"{name:>26}: median {value:.3f} s, best {min(times[name]):.3f} s ({REPEATS} runs)")
    ratio = medians["hyperplug --help"] / medians["minimal Hydra app --help"]
    print(f"ratio hyperplug/minimal Hydra app: {ratio:.2f}")
    torch_loaded = (
        subprocess.run(
            [sys.executable, "-c", TORCH_PROBE], capture_output=True, text=True, check=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    goal = "ok" if medians["hyperplug --help"] < 1.5 and torch_loaded == "False" else "MISSED"
    print(f"torch imported by --help: {torch_loaded}; goal (< 1.5 s, no torch): {goal}")


if __name__ == "__main__":
    main()

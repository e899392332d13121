"""Running the conformance suites on faulty components in a fresh pytest process."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path


def run_suites(tmp_path: Path, code: str) -> tuple[set[str], int, str]:
    """Run the ``Test*`` classes in ``code`` with no conftest and no pytest plugins:
    (``Class::test`` names that failed, how many passed, the output's tail)."""
    (tmp_path / "test_faulty.py").write_text(textwrap.dedent(code))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider", "test_faulty.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    failed = set(re.findall(r"^FAILED test_faulty\.py::(\S+)", result.stdout, re.MULTILINE))
    passed = re.search(r"(\d+) passed", result.stdout)
    return failed, int(passed.group(1)) if passed else 0, result.stdout[-3000:]

"""The runnable examples in examples/ run as a user would run them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_python_api_example(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "python_api.py"), str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "winner digits_example:v1" in result.stdout
    accuracy = float(result.stdout.rsplit(":", 1)[1])
    assert accuracy > 0.8
    assert (tmp_path / "runs" / "models" / "digits_example" / "v1" / "weights.safetensors").exists()

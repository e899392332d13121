"""Every hook in hookspecs.py is documented in docs/hooks.md and used by a test."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from hyperplug import hookspecs

ROOT = Path(__file__).resolve().parents[2]


def hook_names() -> list[str]:
    return [
        name
        for name, value in vars(hookspecs).items()
        if inspect.isfunction(value) and hasattr(value, "hyperplug_spec")
    ]


def test_hookspecs_declare_the_hooks() -> None:
    assert "register_trainers" in hook_names() and "on_study_end" in hook_names()


def test_every_hook_has_a_docs_section() -> None:
    docs = (ROOT / "docs" / "hooks.md").read_text()
    sections = set(re.findall(r"^### (\w+)$", docs, flags=re.MULTILINE))
    missing = sorted(set(hook_names()) - sections)
    assert not missing, f"hooks without a section in docs/hooks.md: {missing}"


def test_every_hook_is_used_by_a_test() -> None:
    this = Path(__file__).resolve()
    sources = "\n".join(
        p.read_text() for p in (ROOT / "tests").rglob("test_*.py") if p.resolve() != this
    )
    missing = [name for name in hook_names() if not re.search(rf"\b{name}\(", sources)]
    assert not missing, f"hooks no test implements or calls: {missing}"

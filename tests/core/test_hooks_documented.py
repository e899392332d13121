"""Every hook in hookspecs.py is documented in docs/hooks.md, shown with its signature and
an example in the plugin guide (docs/plugins.md), and used by a test."""

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


def test_the_plugin_guide_shows_every_hook_with_its_signature_and_an_example() -> None:
    guide = (ROOT / "docs" / "plugins.md").read_text()
    missing = []
    for name in hook_names():
        params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        signature = f"`{name}({params})"
        example = re.search(rf"@hookimpl\ndef {name}\({re.escape(params)}\):", guide)
        if signature not in guide or not example:
            missing.append(name)
    assert not missing, f"hooks without a signature and an example in docs/plugins.md: {missing}"


def test_every_hook_is_used_by_a_test() -> None:
    this = Path(__file__).resolve()
    sources = "\n".join(
        p.read_text() for p in (ROOT / "tests").rglob("test_*.py") if p.resolve() != this
    )
    missing = [name for name in hook_names() if not re.search(rf"\b{name}\(", sources)]
    assert not missing, f"hooks no test implements or calls: {missing}"

"""Every hook in hookspecs.py is typed, documented from its spec in docs/hooks.md, shown
with its signature and an example in the plugin guide (docs/plugins.md), and tied by name
to a test that exercises it (``@pytest.mark.hooks("<hook>", ...)`` on that test)."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from hyperplug import hookspecs
from hyperplug.hookdocs import hook_names, section, sync

ROOT = Path(__file__).resolve().parents[2]


def test_hookspecs_declare_the_hooks() -> None:
    assert "register_trainers" in hook_names() and "on_study_end" in hook_names()


def test_every_hook_is_typed_with_the_records_it_gets_and_returns() -> None:
    for name in hook_names():
        annotations = getattr(hookspecs, name).__annotations__
        assert "Any" not in annotations.get("return", "Any"), name
    assert hookspecs.register_trainers.__annotations__["return"] == "list[Component]"
    assert hookspecs.on_trial_end.__annotations__ == {
        "study": "StudyRecord",
        "trial": "TrialRecord",
        "return": "None",
    }
    assert hookspecs.on_study_end.__annotations__["winner"] == "ModelVersion | None"


def test_docs_hooks_md_is_generated_from_the_hookspecs() -> None:
    docs = (ROOT / "docs" / "hooks.md").read_text()
    for name in hook_names():
        assert section(name) in docs + "\n", f"docs/hooks.md has no up-to-date section {name}"
    assert sync(docs) == docs, "run: python -m hyperplug.hookdocs docs/hooks.md"


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


def marked_hooks() -> dict[str, list[str]]:
    """hook -> the tests marked ``@pytest.mark.hooks(...)`` with it (file::name)."""
    tests: dict[str, list[str]] = {}
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
                continue
            for decorator in node.decorator_list:
                call = decorator if isinstance(decorator, ast.Call) else None
                if call is None or ast.unparse(call.func) != "pytest.mark.hooks":
                    continue
                for arg in call.args:
                    where = f"{path.relative_to(ROOT)}::{node.name}"
                    tests.setdefault(ast.literal_eval(arg), []).append(where)
    return tests


def test_every_hook_is_tied_to_a_test_by_name() -> None:
    marked = marked_hooks()
    assert set(marked) <= set(hook_names()), (
        f"marks naming no hook: {set(marked) - set(hook_names())}"
    )
    missing = [name for name in hook_names() if name not in marked]
    assert not missing, f"hooks no test is marked with: {missing}"

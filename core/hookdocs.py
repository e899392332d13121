"""docs/hooks.md's section of each hook, generated from ``hyperplug.hookspecs``.

Each hook is described once, in its spec's docstring (Markdown); its section here is its
signature as declared and that docstring. ``python -m hyperplug.hookdocs docs/hooks.md``
rewrites the sections of a Markdown file in place (everything outside them is left as it
is); ``tests/core/test_hooks_documented.py`` checks the file is up to date.
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

from hyperplug import hookspecs

#: a hook's section: its heading up to the next heading (or the end)
_SECTION = re.compile(r"^### (\w+)\n.*?(?=^#|\Z)", re.MULTILINE | re.DOTALL)


def hook_names() -> list[str]:
    """The hooks, in the order hookspecs.py declares them."""
    return [
        name
        for name, value in vars(hookspecs).items()
        if inspect.isfunction(value) and hasattr(value, "hyperplug_spec")
    ]


def signature(name: str) -> str:
    """``name(arg: Type, ...) -> Return`` as hookspecs.py declares it."""
    spec = getattr(hookspecs, name)
    annotations = dict(spec.__annotations__)
    result = annotations.pop("return")
    params = ", ".join(f"{arg}: {kind}" for arg, kind in annotations.items())
    return f"{name}({params}) -> {result}"


def section(name: str) -> str:
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    return f"### {name}\n\n`{signature(name)}`\n\n{doc}\n\n"


def sync(markdown: str) -> str:
    """``markdown`` with every hook's section regenerated from its spec."""
    names = set(hook_names())
    synced = _SECTION.sub(lambda m: section(m[1]) if m[1] in names else m[0], markdown)
    return synced.rstrip("\n") + "\n"


def main(argv: list[str]) -> int:
    for name in argv:
        path = Path(name)
        path.write_text(sync(path.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

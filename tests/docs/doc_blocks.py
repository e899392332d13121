"""Fenced code blocks of the docs, with the ``<!-- docs-test: ... -->`` marker that may
precede each (invisible on GitHub and on the docs site).

Markers (the first word says how the block is tested):

- none: a ``python`` block runs on its own; a ``bash`` block's commands are checked; a
  ``yaml`` or ``toml`` block must parse;
- ``context NAME``: the python block runs after the test's setup ``NAME`` and is checked
  by its follow-up (names the snippet uses but does not define, such as the chunk of
  data an update example takes);
- ``continue [NAME]``: the python block runs in the namespace of the page's previous one
  (after the setup ``NAME``, when given);
- ``excerpt PATH``: the block's lines appear in that repository file, in order;
- ``signature MODULE``: the block's classes are sketches of MODULE's: every method it
  shows exists there with the same parameters;
- ``file PATH``: a yaml or toml block holds the same data as that repository file;
- ``shell``: the block is a script a test runs as it is (tests/e2e/test_first_plugin.py);
- ``skip REASON``: not run (a synopsis with placeholders, a step that needs an account).
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^<!--\s*docs-test:\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^```(\w*)[^\n]*$")


@attrs.frozen
class Block:
    page: str
    line: int
    lang: str
    code: str
    marker: str = ""

    @property
    def kind(self) -> str:
        return self.marker.split(maxsplit=1)[0] if self.marker else ""

    @property
    def argument(self) -> str:
        parts = self.marker.split(maxsplit=1)
        return parts[1] if len(parts) > 1 else ""

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def pages() -> list[Path]:
    return [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]


def blocks(path: Path) -> list[Block]:
    """Every fenced block of a page, with the marker on the line before its fence."""
    lines = path.read_text().splitlines()
    found, index = [], 0
    page = str(path.relative_to(ROOT))
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        previous = lines[index - 1] if index else ""
        marker = MARKER.match(previous)
        found.append(
            Block(
                page,
                index + 1,
                opening.group(1),
                "\n".join(lines[index + 1 : end]) + "\n",
                marker.group(1) if marker else "",
            )
        )
        index = end + 1
    return found


def all_blocks() -> list[Block]:
    return [block for path in pages() for block in blocks(path)]

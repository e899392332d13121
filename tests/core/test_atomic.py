"""One helper replaces files (temporary name, fsync, rename), and only it does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hyperplug.atomic import TMP_PREFIX, atomic_file, replace_atomically

ROOT = Path(__file__).resolve().parents[2]


def test_a_block_that_fails_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "results.yaml"
    replace_atomically(target, b"old")
    with pytest.raises(RuntimeError), atomic_file(target) as tmp:
        tmp.write_bytes(b"half of the new")
        raise RuntimeError("writer died")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.yaml"]


def test_the_new_file_replaces_the_old_one_whole(tmp_path: Path) -> None:
    target = tmp_path / "record.json"
    replace_atomically(target, b"old")
    with atomic_file(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(TMP_PREFIX)
        tmp.write_bytes(b"new")
        assert target.read_bytes() == b"old"  # readers see the old file until the rename
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


#: renames that are not a file replacement: the store commits a whole version directory
DIRECTORY_RENAMES = {"plugins/store/local.py": 1}


def test_no_module_replaces_a_file_but_through_the_helper() -> None:
    rename = re.compile(r"\bos\.(replace|rename)\(|\.(replace|rename)\((tmp|temp)")
    found: dict[str, int] = {}
    for folder in ("core", "plugins", "hydra_plugins"):
        for path in (ROOT / folder).rglob("*.py"):
            name = str(path.relative_to(ROOT))
            if name == "core/atomic.py":
                continue
            hits = len(rename.findall(path.read_text()))
            if hits:
                found[name] = hits
    assert found == DIRECTORY_RENAMES

"""requirements.lock stays the compiled form of pyproject.toml and constraints.txt, and
every built-in plugin's extra is one users can install (alone and through ``[all]``).

A requirement added to pyproject.toml without ``make lock`` would float in dev and CI (pip
installs what the lock does not name at its newest version): these checks fail instead.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SELF = canonicalize_name(PROJECT["name"])


def pins(path: Path) -> dict[str, set[Version]]:
    """``name==version`` lines (a universal lock may pin a name once per marker)."""
    found: dict[str, set[Version]] = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split(";")[0].split("==")
            found.setdefault(canonicalize_name(name), set()).add(Version(version.strip()))
    return found


def declared() -> list[Requirement]:
    lines = [*PROJECT["dependencies"]]
    for requirements in PROJECT["optional-dependencies"].values():
        lines.extend(requirements)
    return [r for r in map(Requirement, lines) if canonicalize_name(r.name) != SELF]


def test_the_lock_pins_every_requirement_in_a_version_its_range_allows() -> None:
    locked = pins(ROOT / "requirements.lock")
    for requirement in declared():
        versions = locked.get(canonicalize_name(requirement.name))
        assert versions, f"{requirement} is not in requirements.lock: run make lock"
        assert any(requirement.specifier.contains(v, prereleases=True) for v in versions), (
            f"requirements.lock pins {requirement.name} at {sorted(map(str, versions))}, "
            f"outside {requirement}: run make lock"
        )


def test_the_lock_keeps_the_versions_chosen_in_constraints_txt() -> None:
    locked = pins(ROOT / "requirements.lock")
    for name, versions in pins(ROOT / "constraints.txt").items():
        assert locked.get(name) == versions, f"constraints.txt pins {name} at {versions}"


def plugin_extras() -> dict[str, str]:
    """Each built-in plugin's ``HYPERPLUG_EXTRA``, read from its source (not imported)."""
    extras = {}
    for init in sorted((ROOT / "plugins").glob("*/__init__.py")):
        for node in ast.parse(init.read_text()).body:
            if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "HYPERPLUG_EXTRA":
                extras[init.parent.name] = ast.literal_eval(node.value)
    return extras


def test_every_built_in_plugin_extra_is_declared_and_in_all() -> None:
    optional = PROJECT["optional-dependencies"]
    (everything,) = (Requirement(r) for r in optional["all"])
    extras = plugin_extras()
    assert extras, "no built-in plugin names an extra"
    for plugin, extra in extras.items():
        assert extra in optional, f"plugin '{plugin}' needs [{extra}], not in pyproject.toml"
        assert extra in everything.extras, f"[all] leaves out [{extra}] (plugin '{plugin}')"

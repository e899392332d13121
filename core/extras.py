"""Optional dependencies: is a distribution's extra installed, and what to say when not.

``pip install hyperplug`` brings the core only; each built-in plugin that wraps a library
names the extra it needs (``HYPERPLUG_EXTRA = "torch"`` in its entry-point module), and a
few features name theirs where they are used (plots, ``optimizer=bo``). Whether an extra
is installed is read from the distribution's metadata (its ``Requires-Dist`` lines for
that extra), so nothing heavy is imported to find out.
"""

from __future__ import annotations

from importlib import metadata

from packaging.requirements import Requirement

from hyperplug.errors import PluginError

#: the module attribute a plugin names the extra of its distribution in
EXTRA_ATTRIBUTE = "HYPERPLUG_EXTRA"
DISTRIBUTION = "hyperplug"


class MissingExtraError(PluginError):
    """A plugin or feature needs an extra that is not installed."""


def install_hint(extra: str, distribution: str = DISTRIBUTION) -> str:
    return f"pip install '{distribution}[{extra}]'"


def missing_requirements(extra: str, distribution: str = DISTRIBUTION) -> tuple[str, ...]:
    """The requirements of ``distribution[extra]`` that are not installed (or not in a
    version it allows), as written in its metadata; ``()`` when the extra is complete."""
    missing: list[str] = []
    for requirement in _extra_requirements(extra, distribution):
        if requirement.name == distribution:  # hyperplug[bo] needs hyperplug[synetune]
            for inner in sorted(requirement.extras):
                missing.extend(missing_requirements(inner, distribution))
            continue
        wanted = f"{requirement.name}{requirement.specifier}"  # without the marker
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            missing.append(wanted)
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            missing.append(f"{wanted} (installed: {installed})")
    return tuple(dict.fromkeys(missing))


def _extra_requirements(extra: str, distribution: str) -> list[Requirement]:
    try:
        lines = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return []
    found = []
    for line in lines:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is None or marker.evaluate({"extra": ""}):
            continue  # a requirement of the distribution itself, not of an extra
        if marker.evaluate({"extra": extra}):
            found.append(requirement)
    if not found and extra not in (metadata.metadata(distribution).get_all("Provides-Extra") or []):
        raise PluginError(f"{distribution} has no extra '{extra}'")
    return found


def missing_extra_message(what: str, extra: str, distribution: str = DISTRIBUTION) -> str | None:
    """``"<what> needs hyperplug[torch] (not installed: torch>=2.1, ...): pip install ..."``,
    or None when the extra is installed."""
    missing = missing_requirements(extra, distribution)
    if not missing:
        return None
    return (
        f"{what} needs {distribution}[{extra}] (not installed: {', '.join(missing)}): "
        f"{install_hint(extra, distribution)}"
    )


def require_extra(what: str, extra: str, distribution: str = DISTRIBUTION) -> None:
    """Raise a one-line ``MissingExtraError`` when ``distribution[extra]`` is missing."""
    message = missing_extra_message(what, extra, distribution)
    if message:
        raise MissingExtraError(message)

"""`[tool.bnfix]` in the nearest pyproject.toml, merged under the command-line flags."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

from bnfix.settings import PlacementPolicy, Settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


class ConfigError(Exception):
    """A configuration problem the user must fix (exit code 2)."""


_LIST_KEYS = ("select", "ignore", "exclude")


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above `start` that has a [tool.bnfix] table, like ruff's lookup."""
    start = start.resolve()
    directory = start if start.is_dir() else start.parent
    for candidate_dir in (directory, *directory.parents):
        candidate = candidate_dir / "pyproject.toml"
        if candidate.is_file() and "bnfix" in _read_toml(candidate).get("tool", {}):
            return candidate
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: cannot read configuration: {error}") from error


def parse_keras_version(text: str) -> tuple[int, int]:
    try:
        major, minor, *_ = (str(text) + ".0").split(".")
        return int(major), int(minor)
    except ValueError as error:
        raise ConfigError(f"keras-version must look like '3.14', not {text!r}") from error


def parse_policy(text: str) -> PlacementPolicy:
    try:
        return PlacementPolicy(str(text).lower())
    except ValueError as error:
        choices = ", ".join(p.value for p in PlacementPolicy)
        raise ConfigError(f"policy must be one of {choices}, not {text!r}") from error


def settings_from_table(table: dict[str, Any], origin: str = "[tool.bnfix]") -> dict[str, Any]:
    """Validated keyword arguments for Settings from a [tool.bnfix] table."""
    known = {"policy", "select", "ignore", "exclude", "extend-exclude", "unsafe-fixes", "keras-version", "cache-dir"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{origin}: unknown option(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    if "policy" in table:
        values["policy"] = parse_policy(table["policy"])
    for key in _LIST_KEYS:
        if key in table:
            if not isinstance(table[key], list) or not all(isinstance(v, str) for v in table[key]):
                raise ConfigError(f"{origin}: {key} must be a list of strings")
            values[key] = tuple(table[key])
    if "extend-exclude" in table:
        values["exclude"] = values.get("exclude", ()) + tuple(table["extend-exclude"])
    if "unsafe-fixes" in table:
        values["unsafe_fixes"] = bool(table["unsafe-fixes"])
    if "keras-version" in table:
        values["keras_version"] = parse_keras_version(table["keras-version"])
    if "cache-dir" in table:
        if not isinstance(table["cache-dir"], str) or not table["cache-dir"]:
            raise ConfigError(f"{origin}: cache-dir must be a path (a non-empty string)")
        values["cache_dir"] = table["cache-dir"]
    return values


def load_settings(paths: list[Path], overrides: dict[str, Any]) -> Settings:
    """Settings from the pyproject.toml nearest the first path (or the working directory), then the flags.

    `overrides` holds only the flags the user actually gave (None-valued ones are dropped).
    """
    start = paths[0] if paths else Path.cwd()
    values: dict[str, Any] = {}
    pyproject = find_pyproject(start if start.exists() else Path.cwd())
    if pyproject is not None:
        table = _read_toml(pyproject)["tool"]["bnfix"]
        values.update(settings_from_table(table, origin=f"{pyproject} [tool.bnfix]"))
        # The result cache lives at the project root; a relative cache-dir is relative to that pyproject.toml.
        values["cache_dir"] = str(pyproject.parent / values.get("cache_dir", ".bnfix_cache"))
    values.update({key: value for key, value in overrides.items() if value is not None})
    field_names = {f.name for f in dataclasses.fields(Settings)}
    return Settings(**{key: value for key, value in values.items() if key in field_names})

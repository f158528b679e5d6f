"""The settings an editor may send (initializationOptions, workspace/didChangeConfiguration), checked strictly.

They override `[tool.bnfix]` of the pyproject.toml nearest each file, as command-line flags do. Keys use the
editors' camelCase: `policy`, `select`, `extendSelect`, `ignore`, `unsafeFixes`, `kerasVersion`, `docsUrl` (and
`cachePriming`, the server's own); either at the top level or under a `bnfix` section (VS Code and Neovim send
settings that way). They layer over the file exactly as the flags do (a `select` starts over, `extendSelect`
adds, `ignore` removes). A bad value is a ClientSettingsError naming the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from bnfix.config import (
    ConfigError,
    SelectionLayer,
    load_settings,
    parse_docs_url,
    parse_keras_version,
    parse_policy,
    parse_rule_selectors,
    resolve_selection,
)
from bnfix.settings import Settings

SECTION = "bnfix"
# The one setting that is the server's own, not a file's: whether to prime the result cache at start
# (bnfix.server.cache_priming). `parse_client_settings` returns it with the rest; the server takes it out.
CACHE_PRIMING = "cache_priming"


class ClientSettingsError(Exception):
    """A client setting bnfix cannot use; the message names the key and what it accepts."""


def parse_client_settings(raw: Any) -> dict[str, Any]:
    """Settings overrides (Settings field names) from what the client sent; `None` or `{}` means none."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ClientSettingsError(f"bnfix settings must be an object, not {type(raw).__name__}")
    if isinstance(raw.get(SECTION), dict):
        raw = raw[SECTION]
    elif SECTION in raw and raw[SECTION] is None:
        return {}
    parsers = {
        "policy": ("policy", _policy),
        "select": ("select", _codes),
        "extendSelect": ("extend_select", _codes),
        "ignore": ("ignore", _codes),
        "unsafeFixes": ("unsafe_fixes", _boolean),
        "kerasVersion": ("keras_version", _keras_version),
        "docsUrl": ("docs_url", _docs_url),
        "cachePriming": (CACHE_PRIMING, _boolean),
    }
    unknown = sorted(set(raw) - set(parsers))
    if unknown:
        raise ClientSettingsError(f"unknown bnfix setting(s): {', '.join(unknown)}; known: {', '.join(parsers)}")
    overrides = {}
    for key, value in raw.items():
        if value is None:  # an editor's way of saying "not set"
            continue
        name, parse = parsers[key]
        overrides[name] = parse(key, value)
    return overrides


def settings_for(path: Path | None, overrides: dict[str, Any]) -> tuple[Settings, str | None]:
    """Settings for a file: its nearest pyproject.toml, then the client's overrides; and the config error, if any.

    A broken pyproject.toml must not silence the editor: its error is returned for the user to see, and the file
    is checked with the client's settings alone.
    """
    # An editor buffer may not be on disk yet (a new file): its nearest existing directory decides.
    start = next((candidate for candidate in (path, *path.parents) if candidate.exists()), None) if path else None
    try:
        return load_settings([start] if start is not None else [], overrides), None
    except ConfigError as error:
        return _without_pyproject(overrides), str(error)


def _without_pyproject(overrides: dict[str, Any]) -> Settings:
    given = dict(overrides)
    layer = SelectionLayer(given.pop("select", None), given.pop("extend_select", ()), given.pop("ignore", ()))
    select, ignore = resolve_selection([layer])
    return Settings(select=select, ignore=ignore, **given)


def _parsed_string(parse: Callable[[str], Any], expected: str) -> Callable[[str, Any], Any]:
    """A setting given as a string and read by the parser of its [tool.bnfix] key, with the key in every error."""

    def read(key: str, value: Any) -> Any:
        if not isinstance(value, str):
            raise ClientSettingsError(f"bnfix setting {key} must be {expected}, not {value!r}")
        try:
            return parse(value)
        except ConfigError as error:
            raise ClientSettingsError(f"bnfix setting {key}: {error}") from None

    return read


_policy = _parsed_string(parse_policy, "a string (post, pre or keep)")
_docs_url = _parsed_string(parse_docs_url, "a URL template naming {code}")


def _codes(key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ClientSettingsError(f"bnfix setting {key} must be a list of rule codes, not {value!r}")
    try:
        return parse_rule_selectors([item for item in value if item.strip()], f"bnfix setting {key}")
    except ConfigError as error:
        raise ClientSettingsError(str(error)) from None


def _boolean(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ClientSettingsError(f"bnfix setting {key} must be true or false, not {value!r}")
    return value


def _keras_version(key: str, value: Any) -> tuple[int, int]:
    try:
        return parse_keras_version(str(value))
    except ConfigError as error:
        raise ClientSettingsError(f"bnfix setting {key}: {error}") from None

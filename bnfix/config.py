"""`[tool.bnfix]` in the nearest pyproject.toml (or the file `--config` names), merged under the command-line flags.

Validation is strict, as ruff's is: an unknown key, a value of the wrong TOML type or a rule code that matches no rule
is an error naming the file and the key, never a silent default (`unsafe-fixes = "no"` must not mean true, and
`select = ["BNF999"]` must not run nothing and pass).
"""

from __future__ import annotations

import dataclasses
import string
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence
from urllib.parse import urlsplit

from bnfix.rules import RULE_CODES
from bnfix.settings import PlacementPolicy, Settings


class ConfigError(Exception):
    """A configuration problem the user must fix (exit code 2)."""


# Ruff's spelling for "every rule", accepted in select and ignore alike.
ALL_SELECTOR = "ALL"


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above `start` that has a [tool.bnfix] table, like ruff's lookup."""
    start = start.resolve()
    directory = start if start.is_dir() else start.parent
    return next((candidate for candidate in map(_bnfix_pyproject, (directory, *directory.parents)) if candidate), None)


def _bnfix_pyproject(directory: Path) -> Path | None:
    """`directory`'s pyproject.toml, if it has a [tool.bnfix] table."""
    candidate = directory / "pyproject.toml"
    return candidate if candidate.is_file() and "bnfix" in _read_toml(candidate).get("tool", {}) else None


def _read_toml(path: Path) -> dict[str, Any]:
    # Imported here: a file outside any project (an editor's scratch file) finds no pyproject.toml to parse.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: cannot read configuration: {error}") from error


def read_config_file(path: Path) -> tuple[dict[str, Any], str]:
    """The bnfix table of `--config PATH`, and how to name it in errors.

    A pyproject.toml must have a [tool.bnfix] table; any other TOML file (say `bnfix.toml`) is the table itself,
    as ruff reads `ruff.toml`.
    """
    document = _read_toml(path)
    if "bnfix" in document.get("tool", {}):
        return document["tool"]["bnfix"], f"{path}: [tool.bnfix]"
    if path.name == "pyproject.toml":
        raise ConfigError(f"{path}: has no [tool.bnfix] table")
    return document, f"{path}:"


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


DOCS_URL_FIELDS = ("code", "name")  # what a docs-url template may name: the rule's code, its kebab-case name


def parse_docs_url(text: str) -> str:
    """A rule documentation link template: an absolute URL naming `{code}` (and optionally `{name}`)."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as error:  # an unmatched brace
        raise ConfigError(f"docs-url {text!r} is not a valid template: {error}") from None
    unknown = sorted(fields - set(DOCS_URL_FIELDS))
    if unknown:
        raise ConfigError(f"docs-url {text!r} names {{{unknown[0]}}}; a template may name only {{code}} and {{name}}")
    if "code" not in fields:
        raise ConfigError(f"docs-url {text!r} must contain {{code}}, where each rule's code goes")
    if not urlsplit(text).scheme:
        raise ConfigError(f"docs-url {text!r} must be an absolute URL (https://..., file://...)")
    return text


def parse_rule_selectors(values: Iterable[str], where: str) -> tuple[str, ...]:
    """Codes or prefixes, upper-cased; one that matches no rule is an error that lists the valid codes."""
    codes = RULE_CODES
    selectors = tuple(str(value).strip().upper() for value in values)
    for selector in selectors:
        if not selector:  # every code starts with "": it would select everything or ignore everything, silently
            raise ConfigError(f"{where}: an empty rule code; valid codes: {', '.join(codes)} (or a prefix such as BNF1, or {ALL_SELECTOR})")
        if selector != ALL_SELECTOR and not any(code.startswith(selector) for code in codes):
            raise ConfigError(
                f"{where}: unknown rule code or prefix {selector!r}; valid codes: {', '.join(codes)} "
                f"(or a prefix of them such as BNF1, or {ALL_SELECTOR})"
            )
    return selectors


def _string_list(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where}: must be a list of strings, such as [\"BNF1\"], not {value!r}")
    return tuple(value)


def _boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: must be true or false (a TOML boolean, unquoted), not {value!r}")
    return value


def _string(parse: Callable[[str], Any]) -> Callable[[Any, str], Any]:
    def parse_string(value: Any, where: str) -> Any:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: must be a string, not {value!r}")
        try:
            return parse(value)
        except ConfigError as error:  # its message starts with the key's name already
            origin = where.rsplit(" ", 1)[0]
            raise ConfigError(f"{origin} {error}") from None

    return parse_string


def _cache_dir(text: str) -> str:
    if not text.strip():
        raise ConfigError("cache-dir must be a path, not an empty string")
    return text


def _selectors(value: Any, where: str) -> tuple[str, ...]:
    return parse_rule_selectors(_string_list(value, where), where)


# [tool.bnfix] key -> (Settings field or selection layer key, parser of the TOML value)
_KEYS: dict[str, tuple[str, Callable[[Any, str], Any]]] = {
    "policy": ("policy", _string(parse_policy)),
    "select": ("select", _selectors),
    "extend-select": ("extend_select", _selectors),
    "ignore": ("ignore", _selectors),
    "exclude": ("exclude", _string_list),
    "extend-exclude": ("extend_exclude", _string_list),
    "unsafe-fixes": ("unsafe_fixes", _boolean),
    "keras-version": ("keras_version", _string(parse_keras_version)),
    "cache-dir": ("cache_dir", _string(_cache_dir)),
    "docs-url": ("docs_url", _string(parse_docs_url)),
}


def settings_from_table(table: dict[str, Any], origin: str = "[tool.bnfix]") -> dict[str, Any]:
    """Validated values from a [tool.bnfix] table, keyed by Settings field (and the selection keys)."""
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise ConfigError(f"{origin} unknown option(s): {', '.join(unknown)}; known: {', '.join(_KEYS)}")
    values: dict[str, Any] = {}
    for key, value in table.items():
        name, parse = _KEYS[key]
        values[name] = parse(value, f"{origin} {key}")
    if "extend_exclude" in values:
        values["exclude"] = values.get("exclude", ()) + values.pop("extend_exclude")
    return values


@dataclasses.dataclass(frozen=True)
class SelectionLayer:
    """One source of rule selection (the config file, then the flags), applied in order as ruff layers them."""

    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()


def resolve_selection(layers: Iterable[SelectionLayer]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Settings' (select, ignore) for the layers, resolved as ruff resolves them.

    Within a layer the more specific selector wins, whatever its kind: `--select BNF201 --ignore BNF2` runs BNF201,
    `--select BNF2 --ignore BNF201` does not (at equal specificity, `ignore` wins). A layer with a `select` then
    starts over from what it enables; one without changes what the layers before chose. A layer that selects
    nothing and only ignores (`select = []`) hands its ignores on to the next layer, as ruff does.
    """
    codes = RULE_CODES

    def matching(selector: str) -> set[str]:
        return set(codes) if selector == ALL_SELECTOR else {code for code in codes if code.startswith(selector)}

    def specificity(selector: str) -> int:  # ALL, then BNF, then ever longer prefixes, then a whole code
        return 0 if selector == ALL_SELECTOR else len(selector)

    enabled = set(codes)
    carried_ignores: tuple[str, ...] = ()
    for layer in layers:
        ignores, carried_ignores = (*layer.ignore, *carried_ignores), ()
        updates: dict[str, bool] = {}
        for level in sorted({specificity(s) for s in (*(layer.select or ()), *layer.extend_select, *ignores)}):
            for selector in (*(layer.select or ()), *layer.extend_select):
                if specificity(selector) == level:
                    updates.update(dict.fromkeys(matching(selector), True))
            for selector in ignores:
                if specificity(selector) == level:
                    updates.update(dict.fromkeys(matching(selector), False))
        if layer.select is not None:
            enabled = {code for code, on in updates.items() if on}
            if not layer.select and not layer.extend_select and layer.ignore:
                carried_ignores = layer.ignore
        else:
            enabled = {code for code in codes if updates.get(code, code in enabled)}
    if enabled == set(codes):
        return (), ()
    if not enabled:
        return (), (codes[0][:3],)  # the "BNF" prefix: nothing runs
    return tuple(code for code in codes if code in enabled), ()


def load_settings(paths: list[Path], overrides: dict[str, Any], config: Path | None = None) -> Settings:
    """Settings from `config` (or the pyproject.toml nearest the first path, or the working directory), then the flags.

    `overrides` holds the flags (None-valued ones were not given); `select`, `extend_select` and `ignore` in it are
    checked against the rule catalogue like the file's.
    """
    if config is not None:
        return _settings(*read_config_file(config), config.resolve().parent, overrides)
    start = paths[0] if paths else Path.cwd()
    return _project_settings(find_pyproject(start if start.exists() else Path.cwd()), overrides)


class SettingsByFile:
    """Each file's settings as ruff finds them: the pyproject.toml with [tool.bnfix] nearest the file, then the
    flags; with `config`, that file's for every path. Each directory and each pyproject.toml is read once, so a
    run over a thousand files does not parse its pyproject.toml a thousand times.
    """

    def __init__(self, overrides: dict[str, Any], config: Path | None = None) -> None:
        self.overrides = overrides
        self.config = config
        self._only = load_settings([], overrides, config) if config is not None else None
        self._pyproject_of: dict[Path, Path | None] = {}  # by resolved directory
        self._settings_of: dict[Path | None, Settings] = {}  # by pyproject.toml
        self._by_directory: dict[Path, tuple[Path | None, Settings]] = {}  # by directory as given

    def __call__(self, file: Path) -> Settings:
        """The settings of the file at `file`."""
        return self._for_directory(file.parent)[1]

    def exclude_at(self, directory: Path) -> tuple[Path | None, tuple[str, ...]]:
        """For `sources.files.discover`: the root of the project `directory` belongs to (None: none), and its
        `exclude` (ruff matches each configuration's patterns relative to its own directory)."""
        root, settings = self._for_directory(directory)
        return root, settings.exclude

    def _for_directory(self, directory: Path) -> tuple[Path | None, Settings]:
        """The project root and the settings of the files in `directory` (resolved once per directory)."""
        found = self._by_directory.get(directory)
        if found is None:
            if self._only is not None:
                assert self.config is not None
                found = (self.config.resolve().parent, self._only)
            else:
                pyproject = self._nearest_pyproject(directory.resolve())
                if pyproject not in self._settings_of:
                    self._settings_of[pyproject] = _project_settings(pyproject, self.overrides)
                found = (pyproject.parent if pyproject is not None else None, self._settings_of[pyproject])
            self._by_directory[directory] = found
        return found

    def _nearest_pyproject(self, directory: Path) -> Path | None:
        walked = []
        found: Path | None = None
        for candidate_dir in (directory, *directory.parents):
            if candidate_dir in self._pyproject_of:
                found = self._pyproject_of[candidate_dir]
                break
            walked.append(candidate_dir)
            found = _bnfix_pyproject(candidate_dir)
            if found is not None:
                break
        for candidate_dir in walked:
            self._pyproject_of[candidate_dir] = found
        return found


def group_by_settings(paths: Sequence[Path], settings_of: Callable[[Path], Settings | None]) -> list[tuple[Settings, list[int]]]:
    """The paths' indexes grouped by the settings they are checked with (None: left out), and by project: two
    projects with the same options compare equal, but each has a result cache of its own."""
    groups: dict[tuple[Settings, str | None], list[int]] = {}
    for index, path in enumerate(paths):
        settings = settings_of(path)
        if settings is not None:
            groups.setdefault((settings, settings.cache_dir), []).append(index)
    return [(settings, indexes) for (settings, _), indexes in groups.items()]


def _project_settings(pyproject: Path | None, overrides: dict[str, Any]) -> Settings:
    if pyproject is None:
        return _settings({}, "", None, overrides)
    return _settings(_read_toml(pyproject)["tool"]["bnfix"], f"{pyproject}: [tool.bnfix]", pyproject.parent, overrides)


def _settings(table: dict[str, Any], origin: str, root: Path | None, overrides: dict[str, Any]) -> Settings:
    """`table` (read from `origin`, in the project at `root`) under the flags in `overrides`."""
    values: dict[str, Any] = dict(settings_from_table(table, origin=origin))
    if root is not None:  # a relative cache-dir is relative to the configuration file
        values["cache_dir"] = str(root / values.get("cache_dir", ".bnfix_cache"))
    given = {key: value for key, value in overrides.items() if value is not None}
    flags = SelectionLayer(
        select=parse_rule_selectors(given.pop("select"), "--select") if "select" in given else None,
        extend_select=parse_rule_selectors(given.pop("extend_select", ()), "--extend-select"),
        ignore=parse_rule_selectors(given.pop("ignore", ()), "--ignore"),
    )
    from_file = SelectionLayer(values.pop("select", None), values.pop("extend_select", ()), values.pop("ignore", ()))
    values["select"], values["ignore"] = resolve_selection([from_file, flags])
    values.update(given)
    field_names = {f.name for f in dataclasses.fields(Settings)}
    return Settings(**{key: value for key, value in values.items() if key in field_names})

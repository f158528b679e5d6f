"""typer's command and group classes, made cheap to start: an editor runs `bnfix check FILE` on every save.

Two costs of a one-file run are typer's, not bnfix's (bench/README.md, "One small file in an editor"):

- typer 0.29 coerces every parameter value, even an absent one, through a pydantic TypeAdapter built when the
  command runs: importing pydantic and building the adapters is ~55-60 ms of CPU, several times the engine's own
  work on a small file. The values bnfix takes are plain (a string, a path, a number, an enum choice, lists of
  those), so `DirectCommand` and `LazyGroup` coerce those forms themselves, to exactly what typer's adapter returns, and
  hand anything else (a value typer would reject, an unusual spelling such as `--jobs 1_0`) to typer's own
  adapter, so that results and error messages stay typer's. On a typer without these internals the classes are
  typer's own.
- typer builds every command of a group before it runs one; `LazyGroup` builds the commands it names only when
  they are asked for, so that `check` never imports `verify`'s modules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar, get_args, get_origin

from typer.core import TyperCommand, TyperGroup

try:  # typer 0.29's coercion layer; older typers coerce through click types, without pydantic
    from typer._click.exceptions import BadParameter
    from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
    from typer._param_types import coerce_cli_choice, coerce_cli_path
    from typer.core import _TyperParameter
except ImportError:  # pragma: no cover - depends on the installed typer
    RuntimeParam = None

# Plain spellings only; the rest (signs, `1_000`, `1e3`, `nan`, surrounding spaces) goes to pydantic.
_INTEGER = re.compile(r"[0-9]{1,18}")
_DECIMAL = re.compile(r"[0-9]{1,15}(\.[0-9]{1,15})?")


class _Undecided(Exception):
    """Not one of the plain forms: typer's adapter decides the value (and words any error)."""


def _number(annotation: type, value: Any, pattern: re.Pattern, descriptor: TypeDescriptor) -> Any:
    if type(value) is annotation:
        number = value
    elif type(value) is str and pattern.fullmatch(value):
        number = annotation(value)
    else:
        raise _Undecided
    info = descriptor.parameter_info
    if (info.min is not None and number < info.min) or (info.max is not None and number > info.max):
        raise _Undecided  # out of range: typer's error (or its clamping)
    return number


def _leaf(annotation: Any, value: Any, descriptor: TypeDescriptor, param: Any, ctx: Any) -> Any:
    """What typer's leaf adapter (typer._adapters.build_leaf_adapter) returns for a plain value."""
    info = descriptor.parameter_info
    if info.parser is not None:
        raise _Undecided
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        try:
            return coerce_cli_choice(value, choices=list(annotation), case_sensitive=info.case_sensitive, ctx=ctx)
        except ValueError:
            raise _Undecided from None
    if annotation is int:
        return _number(int, value, _INTEGER, descriptor)
    if annotation is float:
        return _number(float, value, _DECIMAL, descriptor)
    if annotation is str and type(value) is str:
        return value
    if annotation is Path and info.path_type is None and (type(value) is str or isinstance(value, Path)):
        # pydantic's Path from a string is Path(string); typer's checks (exists, dir_okay...) then run as usual.
        try:
            return coerce_cli_path(value if isinstance(value, Path) else Path(value), info, path_type=Path, param=param, ctx=ctx)
        except BadParameter:
            raise _Undecided from None
    raise _Undecided


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class DirectRuntimeParam(RuntimeParam):
        """typer's runtime coercion of one parameter, without pydantic for the plain forms."""

        descriptor: TypeDescriptor

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                if get_origin(self.annotation) is list:
                    if not isinstance(value, (list, tuple)):
                        raise _Undecided
                    (item_annotation,) = get_args(self.annotation)
                    return [_leaf(item_annotation, item, self.descriptor, param, ctx) for item in value]
                return _leaf(self.annotation, value, self.descriptor, param, ctx)
            except _Undecided:
                return build_runtime_param(self.descriptor)._coerce_value(value, param=param, ctx=ctx)


def coerce_directly(params: list) -> None:
    """Give each typer parameter the direct coercion, unless it already has its runtime coercion."""
    if RuntimeParam is None:  # pragma: no cover - depends on the installed typer
        return
    for param in params:
        if isinstance(param, _TyperParameter) and param._runtime_param is None and param.type_descriptor.file_annotation is None:
            descriptor = param.type_descriptor
            param._runtime_param = DirectRuntimeParam(parameter_info=descriptor.parameter_info, annotation=descriptor.annotation, descriptor=descriptor)


class DirectCommand(TyperCommand):
    """A typer command whose parameters are coerced by `coerce_directly`."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        coerce_directly(self.get_params(ctx))
        return super().parse_args(ctx, args)


class _LazyCommands(MutableMapping):
    """A group's commands, of which the named ones are built on first access (typer keeps the order)."""

    def __init__(self, built: Mapping[str, Any], loaders: Mapping[str, Callable[[], Any]]) -> None:
        self._commands: dict[str, Any] = {**built, **{name: None for name in loaders if name not in built}}
        self._loaders = dict(loaders)

    def __getitem__(self, name: str) -> Any:
        command = self._commands[name]
        if command is None:
            command = self._commands[name] = self._loaders[name]()  # a loader that fails stays for the next try
            del self._loaders[name]
        return command

    def __contains__(self, name: object) -> bool:
        return name in self._commands  # without building it

    def __setitem__(self, name: str, command: Any) -> None:
        self._commands[name] = command
        self._loaders.pop(name, None)

    def __delitem__(self, name: str) -> None:
        del self._commands[name]
        self._loaders.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._commands)

    def __len__(self) -> int:
        return len(self._commands)


class LazyGroup(TyperGroup):
    """A typer group with direct coercion, and `lazy_commands` (name -> builder) built only when asked for.

    Listing the commands (help, completion) builds them all; running one builds only that one.
    """

    lazy_commands: ClassVar[Mapping[str, Callable[[], Any]]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _LazyCommands(self.commands, self.lazy_commands)

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        coerce_directly(self.get_params(ctx))
        return super().parse_args(ctx, args)

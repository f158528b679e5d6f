"""Small, formatting-preserving edits of call arguments that several rules share."""

from __future__ import annotations

import libcst as cst

from bnfix.analysis.calls import keyword_arg


def remove_arg(call: cst.Call, target: cst.Arg) -> cst.Call:
    """`f(a, b=1)` minus `b=1` -> `f(a)`: the new last argument takes over the removed one's trailing comma."""
    args = list(call.args)
    index = next(i for i, arg in enumerate(args) if arg is target)
    del args[index]
    if index == len(args) and args:  # removed the last argument
        args[-1] = args[-1].with_changes(comma=target.comma)
    return call.with_changes(args=args)


def rename_keyword(call: cst.Call, target: cst.Arg, new_name: str) -> cst.Call:
    return call.deep_replace(target, target.with_changes(keyword=cst.Name(new_name)))


def set_keyword(call: cst.Call, name: str, value: cst.BaseExpression) -> cst.Call:
    """Set `name=value`, replacing the value of an existing keyword or appending a new one (PEP 8 spacing)."""
    existing = keyword_arg(call, name)
    if existing is not None:
        return call.deep_replace(existing, existing.with_changes(value=value))
    new_arg = cst.Arg(
        value=value,
        keyword=cst.Name(name),
        equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")),
    )
    args = list(call.args)
    if args:
        last = args[-1]
        if isinstance(last.comma, cst.Comma) and len(args) > 1:  # trailing comma, one argument a line
            args[-1] = last.with_changes(comma=args[-2].comma)
            return call.with_changes(args=[*args, new_arg.with_changes(comma=last.comma)])
        args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    return call.with_changes(args=[*args, new_arg])


def replace_first_arg(call: cst.Call, value: cst.BaseExpression) -> cst.Call:
    """`f(x, k=1)` -> `f(value, k=1)`."""
    first = call.args[0]
    return call.with_changes(args=[first.with_changes(value=value), *call.args[1:]])

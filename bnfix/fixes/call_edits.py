"""Small edits of call arguments that several rules share, written in the layout of the call they change.

A reviewer should see only the argument that changed: in a call spread over several lines, a new argument goes on
a line of its own with its neighbours' indentation and trailing-comma style; in a one-line call it stays on the
line. Comments stay with the argument they follow, and whitespace is copied from the file, so tabs stay tabs.
"""

from __future__ import annotations

import libcst as cst

from bnfix.analysis.calls import keyword_arg

_NO_SPACE = cst.SimpleWhitespace("")


def remove_arg(call: cst.Call, target: cst.Arg) -> cst.Call:
    """`f(a, b=1)` minus `b=1` -> `f(a)`. Removing the last argument, the new last one takes over the removed one's
    ending (trailing comma, line break before `)`) and keeps its own comment."""
    args = list(call.args)
    index = next(i for i, arg in enumerate(args) if arg is target)
    del args[index]
    if not args:
        return call.with_changes(args=[], whitespace_before_args=_NO_SPACE)
    if index == len(args):  # removed the last argument
        previous = args[-1]
        comment = _line_end(previous.comma)
        if isinstance(target.comma, cst.Comma):
            args[-1] = previous.with_changes(comma=_with_line_end(target.comma, comment))
        else:
            ending = target.whitespace_after_arg
            if comment is not None and isinstance(ending, cst.ParenthesizedWhitespace):
                ending = ending.with_changes(first_line=comment)
            elif comment is not None and comment.comment is not None:  # `f(a,  # note` + `    b)`: keep the note
                ending = cst.ParenthesizedWhitespace(first_line=comment, indent=True)
            args[-1] = previous.with_changes(comma=cst.MaybeSentinel.DEFAULT, whitespace_after_arg=ending)
    elif index > 0 and _line_end(target.comma) is not None and _line_end(args[index - 1].comma) is None:
        # `f(a, b=1,` + `  c)` minus `b=1`: the line break after it stays, or the call is joined onto one line.
        previous = args[index - 1]
        args[index - 1] = previous.with_changes(comma=target.comma)
    return call.with_changes(args=args)


def rename_keyword(call: cst.Call, target: cst.Arg, new_name: str) -> cst.Call:
    return call.deep_replace(target, target.with_changes(keyword=cst.Name(new_name)))


def set_keyword(call: cst.Call, name: str, value: cst.BaseExpression) -> cst.Call:
    """Set `name=value`: replace the value of an existing keyword, or append the keyword in the call's layout."""
    existing = keyword_arg(call, name)
    if existing is not None:
        return call.deep_replace(existing, existing.with_changes(value=value))
    return append_arg(call, cst.Arg(value=value, keyword=cst.Name(name), equal=_equal_style(call)))


def append_arg(call: cst.Call, new_arg: cst.Arg) -> cst.Call:
    """Add `new_arg` after the last argument, on its own line when the arguments are one per line (or hanging),
    on the same line otherwise."""
    args = list(call.args)
    if not args:
        return call.with_changes(args=[new_arg])
    last = args[-1]
    between = _line_break_between_args(call)
    if between is None:  # one line: `f(a, b)` -> `f(a, b, k=v)`
        args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        return call.with_changes(args=[*args, new_arg.with_changes(comma=last.comma)])
    if isinstance(last.comma, cst.Comma):  # trailing comma: the new argument gets one too, and the line before `)`
        kept_comment = _line_end(last.comma)
        last_comma = last.comma.with_changes(whitespace_after=_with_comment(between, kept_comment))
        new_comma = _with_line_end(last.comma, cst.TrailingWhitespace())
        args[-1] = last.with_changes(comma=last_comma)
        return call.with_changes(args=[*args, new_arg.with_changes(comma=new_comma)])
    # No trailing comma: the line break (if any) before `)` moves after the new argument.
    ending = last.whitespace_after_arg
    kept_comment = ending.first_line if isinstance(ending, cst.ParenthesizedWhitespace) else None
    if isinstance(ending, cst.ParenthesizedWhitespace):
        ending = ending.with_changes(first_line=cst.TrailingWhitespace())
    args[-1] = last.with_changes(
        comma=cst.Comma(whitespace_after=_with_comment(between, kept_comment)), whitespace_after_arg=_NO_SPACE
    )
    return call.with_changes(args=[*args, new_arg.with_changes(comma=cst.MaybeSentinel.DEFAULT, whitespace_after_arg=ending)])


def replace_first_arg(call: cst.Call, value: cst.BaseExpression) -> cst.Call:
    """`f(x, k=1)` -> `f(value, k=1)`."""
    first = call.args[0]
    return call.with_changes(args=[first.with_changes(value=value), *call.args[1:]])


def _line_break_between_args(call: cst.Call) -> cst.ParenthesizedWhitespace | None:
    """The line break and indentation that start an argument's line in this call (the last one written between
    two arguments, else the one after `(`), without comments or blank lines; None when the arguments share a line."""
    breaks = [arg.comma.whitespace_after for arg in call.args[:-1] if isinstance(arg.comma, cst.Comma)]
    breaks = [w for w in breaks if isinstance(w, cst.ParenthesizedWhitespace)]
    if not breaks and isinstance(call.whitespace_before_args, cst.ParenthesizedWhitespace):
        breaks = [call.whitespace_before_args]
    if not breaks:
        return None
    return breaks[-1].with_changes(first_line=cst.TrailingWhitespace(), empty_lines=())


def _equal_style(call: cst.Call) -> cst.AssignEqual:
    """`=` spaced like the call's other keywords (PEP 8's `k=v` when it has none)."""
    for arg in call.args:
        if arg.keyword is not None and isinstance(arg.equal, cst.AssignEqual):
            return arg.equal
    return cst.AssignEqual(whitespace_before=_NO_SPACE, whitespace_after=_NO_SPACE)


def _line_end(comma: cst.Comma | cst.MaybeSentinel) -> cst.TrailingWhitespace | None:
    """What ends the line after a comma (spaces, a comment, the newline), when the comma ends a line."""
    if isinstance(comma, cst.Comma) and isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace):
        return comma.whitespace_after.first_line
    return None


def _with_line_end(comma: cst.Comma, line_end: cst.TrailingWhitespace | None) -> cst.Comma:
    if line_end is None or not isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace):
        return comma
    return comma.with_changes(whitespace_after=comma.whitespace_after.with_changes(first_line=line_end))


def _with_comment(
    whitespace: cst.ParenthesizedWhitespace, line_end: cst.TrailingWhitespace | None
) -> cst.ParenthesizedWhitespace:
    return whitespace if line_end is None else whitespace.with_changes(first_line=line_end)

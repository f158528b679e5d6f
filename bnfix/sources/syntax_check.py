"""CPython's own parser looks at a source before libcst does, for two reasons found on real and generated code.

1. libcst's native parser overflows the C stack (a segfault: no `except` can catch it, and in a process pool it
   takes the whole run down) on very deep nesting: about 1,500 nested brackets, or one expression of ~20,000
   chained operators, calls or attribute accesses. CPython refuses all of those cleanly (a SyntaxError or a
   RecursionError "during ast construction"), so such a source is reported and never reaches libcst.
2. On Python 2 code and other syntax errors, CPython's message and position are the ones people know
   ("Missing parentheses in call to 'print'"), where libcst's can point past the end of the wrong line.

CPython parses about ten times faster than libcst, so this costs a tenth of the parse. A SyntaxError that is not
about nesting does not stop libcst from trying: libcst accepts grammar newer than the running interpreter.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass

# CPython's wording for the nesting limits of its tokenizer and parser.
_NESTING_MESSAGES = ("too many nested parentheses", "too many levels of indentation", "too complex", "too deeply nested")


@dataclass(frozen=True)
class SyntaxProblem:
    message: str
    line: int
    column: int  # 1-based
    fatal: bool  # libcst must not be given this source


def python_parse(source: str) -> tuple[ast.Module | None, SyntaxProblem | None]:
    """CPython's tree of `source` (kept: rules screen themselves on it), or what is wrong with the source.

    Both are None for a source CPython cannot judge (null bytes), which libcst then reports with a position.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences and the like are not ours to report
            return ast.parse(source), None
    except (RecursionError, MemoryError):
        return None, SyntaxProblem("cannot parse: nested too deeply (Python's own parser gives up)", 1, 1, fatal=True)
    except SyntaxError as error:
        message = str(error.msg)
        fatal = any(text in message for text in _NESTING_MESSAGES)
        return None, SyntaxProblem(f"syntax error: {message}", error.lineno or 1, max(error.offset or 1, 1), fatal)
    except ValueError:  # null bytes: libcst reports them with a position
        return None, None

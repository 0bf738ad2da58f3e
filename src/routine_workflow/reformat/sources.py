"""One source's text: how the tools decode it, whether it compiles, black's safe mode.

* ``decode``: (encoding, text) as the three tools decode a file;
* ``compile_error``: why a text does not compile with this interpreter;
* ``black_format``: ``black.format_file_contents`` in safe mode, one formatting cheaper;
* ``one_line`` and ``tool_error``: an exception as the one line a failure reports.

black is imported only when ``black_format`` runs.
"""

from __future__ import annotations

import io
import tokenize
from typing import Any


def black_format(src: str, mode: Any) -> str:
    """``black.format_file_contents(src, fast=False, mode=mode)``, one formatting cheaper.

    Raises NothingChanged when black leaves ``src`` as it is. black formats a source
    it changes twice itself (``format_str``'s forced second pass), then, in safe mode,
    a third time to check that the result is stable. When its second formatting
    changed nothing, the third would format that same text again, so its answer is
    already known and it is skipped; otherwise it runs as in black. The AST-equivalence
    check always runs. Either way the result is a text black leaves as it is.
    """
    import black
    from black.report import NothingChanged

    once = getattr(black, "_format_str_once", None)
    if once is None:  # pragma: no cover (a black without it: its own safe mode)
        return str(black.format_file_contents(src, fast=False, mode=mode))
    dst = once(src, mode=mode)
    if dst == src:
        raise NothingChanged
    again = once(dst, mode=mode)
    if again != dst:
        black.assert_stable(src, again, mode=mode)  # raises as `black` does if unstable
        dst = again
    black.assert_equivalent(src, dst)
    return str(dst)


def decode(data: bytes) -> tuple[str, str]:
    """(encoding, text) as the three tools decode a file: cookie or BOM, else UTF-8.

    Line endings are kept as they are (the tools read with ``newline=""``).
    """
    encoding = tokenize.detect_encoding(io.BytesIO(data).readline)[0]
    return encoding, data.decode(encoding)


def compile_error(text: str, path: str, skip_first_line: bool = False) -> str:
    """Why ``text`` does not compile with this interpreter ("" if it does)."""
    if skip_first_line:
        text = "\n" + text.split("\n", 1)[1] if "\n" in text else ""
    try:
        compile(text, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    except ValueError as exc:  # null bytes
        return str(exc)
    except RecursionError as exc:  # nested deeper than the compiler goes
        return one_line(exc)
    return ""


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (its type's name if it has none)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def tool_error(exc: Exception) -> str:
    module = type(exc).__module__.split(".")[0]
    tools = {
        "black": "black",
        "blib2to3": "black",
        "isort": "isort",
        "autoflake": "autoflake",
        "pyflakes": "autoflake",
    }
    tool = tools.get(module, "the pipeline")
    return f"{tool} cannot format it: {type(exc).__name__}: {one_line(exc)[:300]}"

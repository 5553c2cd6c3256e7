"""One exception family for everything a user can get wrong.

The CLI turns any :class:`HypebtError` into a single ``Error: ...`` line and exit code 2;
anything else is an internal error (exit 1).
"""
from __future__ import annotations

import difflib
import errno
import sys
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


class HypebtError(Exception):
    """Base class: a problem with the user's input, named precisely enough to fix."""


class DataError(HypebtError):
    """A data file (market panel, names, articles, store) is missing or malformed."""


class ConfigError(HypebtError):
    """A config key, option or parameter value is wrong."""


class CalendarError(DataError):
    """A date is not a trading session or lies outside the calendar."""


class MarksError(DataError, ConfigError):
    """Marks (a marks file, a marks frame, user entries) are malformed or do not fit the market.
    Marks are both data and a run's input, so this is either kind to a caller that catches one."""


class DataWarning(UserWarning):
    """Something in the data the user should know about but that does not stop the run (dropped
    bad rows, stocks of an unknown board, bars outside their computed price limits). The CLI
    prints these as ``Warning: ...`` lines on stderr."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``' (did you mean "x"?)'`` for the closest choice, or ``''`` when none is close."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{match[0]}"?)' if match else ""


class NetworkError(HypebtError):
    """A download failed: the host could not be reached, timed out or kept failing after the
    retries hypebt's call policy allows."""


def one_line(text) -> str:
    """``text`` (an exception's message, say) with every run of white space one space: a
    library's multi-line message becomes part of one ``Error:`` line."""
    return " ".join(str(text).split())


def _os_cause(exc: OSError) -> str:
    """``OSError`` -> ``"<file>: <cause>"`` with the common causes spelled out."""
    cause = one_line(exc.strerror or exc) or type(exc).__name__
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        cause += " (disk full: free some space and run again)"
    names = [str(f) for f in (exc.filename, exc.filename2) if f is not None]
    return f"{' -> '.join(names)}: {cause}" if names else cause


def describe_failure(exc: BaseException) -> str | None:
    """The one-line ``Error:`` text for an *expected* failure that is not a
    :class:`HypebtError` -- I/O and permissions, disk full, text that is not UTF-8, a damaged
    compressed or Parquet file, a network failure -- or ``None`` for anything else (a bug).

    The CLI's boundary uses this as its safety net; code that knows which file or option it is
    reading raises a precise :class:`HypebtError` itself. Library modules are looked up in
    ``sys.modules`` only: an exception of a library that was never imported cannot occur, and
    ``hypebt --help`` stays fast.
    """
    kind = type(exc).__name__
    mods = sys.modules
    if "requests" in mods and isinstance(exc, mods["requests"].RequestException):
        url = getattr(getattr(exc, "request", None), "url", None)
        return f"network: {url + ': ' if url else ''}{kind}: {one_line(exc)}"
    curl = mods.get("curl_cffi.requests.exceptions")
    if curl is not None and isinstance(exc, curl.RequestException):
        return f"network: {kind}: {one_line(exc)}"
    ak = mods.get("akshare.exceptions")
    if ak is not None and isinstance(exc, getattr(ak, "AkshareException", ())):
        return f"network (akshare): {kind}: {one_line(exc)}"
    if isinstance(exc, UnicodeDecodeError):
        return (f"text is not UTF-8 ({exc.encoding} cannot decode byte "
                f"0x{exc.object[exc.start]:02x} at offset {exc.start}); save the file as UTF-8")
    text = one_line(exc)
    if isinstance(exc, zlib.error) or (isinstance(exc, (EOFError, OSError)) and (
            "compressed" in text or "gzip" in text.lower() or "zlib" in text)):
        return f"damaged compressed (gzip) data: {text}"
    pa = mods.get("pyarrow")
    if pa is not None and isinstance(exc, pa.ArrowException):
        if "UTF8" in text or "UTF-8" in text:
            return (f"text is not UTF-8 ({text}); save the file as UTF-8 (a GBK/GB18030 file: "
                    f"Excel 'CSV UTF-8')")
        return f"cannot parse the data ({kind}: {text})"
    if isinstance(exc, OSError):  # after the library errors, several of which are OSErrors
        return _os_cause(exc)
    return None


@contextmanager
def reading(path, what: str, error: type[HypebtError] = DataError, *,
            verb: str = "cannot read") -> Iterator[None]:
    """Inside the block, an expected failure (:func:`describe_failure`) becomes
    ``error("<what> <path>: cannot read it: <cause>")``, so the message names the file; a
    :class:`HypebtError` and a bug pass through unchanged."""
    try:
        yield
    except HypebtError:
        raise
    except Exception as exc:
        cause = describe_failure(exc)
        if cause is None:
            raise
        shown = str(path)
        if cause.startswith(shown + ": "):   # an OSError naming the same file
            cause = cause[len(shown) + 2:]
        raise error(f"{what} {shown}: {verb} it: {cause}") from None

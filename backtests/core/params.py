"""The one parameter schema: how a parameter is described, checked and documented.

A parameter table maps ``name -> (section, type, default, allowed, doc)``:

``section``
    The config section the key belongs in (``strategy``, ``portfolio``, ``costs``, ``fill``,
    ``signals``).
``type``
    ``bool``, ``int``, ``float``, ``str`` or ``list`` (a list of strings; a single string is
    accepted and becomes a one-element tuple).
``allowed``
    A tuple of choices (``str`` and ``list`` parameters), ``(min, max)`` inclusive bounds with
    ``None`` for an open end (numbers), or ``None``.

``strategies.ENGINE_PARAMS`` (the ``[strategy]``, ``[portfolio]``, ``[costs]`` and ``[fill]``
sections) and ``signals.SIGNAL_PARAMS`` (the ``[signals]`` thresholds) are such tables.
:func:`check_value` is the one validator of every value from a config, a grid axis, the
command line or the Python API; :func:`params_markdown` the one renderer of the tables in docs.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from backtests.core.errors import ConfigError, did_you_mean

Param = tuple[str, type, Any, Any, str]

# Upper bound of integer parameters without one of their own (counts of sessions/positions):
# the kernel packs parameters into float64 and counts in int64.
INT_MAX = 2**31 - 1
# ... and of float parameters without one (cash, fixed_cash, commission_min, take_profit,
# thresholds): a trillion. Larger cash would overflow the kernel's int64 share counts.
FLOAT_MAX = 1e12


def describe(value) -> str:
    """A value as a TOML config would spell it, for messages."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fail(where: str, value, expected: str) -> ConfigError:
    return ConfigError(f"{where} = {describe(value)}: expected {expected}")


def check_value(where: str, value, typ: type, allowed=None):
    """Validate and normalise one parameter value; ``where`` names it (``[costs] commission_min``).

    Ints are accepted for floats (and become floats); a float with an integral value is
    accepted for an int. Floats must be finite. An int without an upper bound is capped at
    :data:`INT_MAX`, a float at :data:`FLOAT_MAX`. Raises :class:`ConfigError` naming the key, the value and what is expected,
    with a "did you mean" for a misspelt choice.
    """
    if typ is bool:
        if not isinstance(value, bool):
            raise _fail(where, value, "true or false")
    elif typ is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(where, value, "an integer")
    elif typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(where, value, "a number")
        value = float(value)
        if not math.isfinite(value):
            raise _fail(where, value, "a finite number")
    elif typ in (list, tuple):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise _fail(where, value, "a list")
        value = tuple(value)
    elif not isinstance(value, typ):
        raise _fail(where, value, "a string" if typ is str else f"a {typ.__name__}")
    if allowed is None:
        return value
    if all(isinstance(c, str) for c in allowed):
        for item in (value if isinstance(value, tuple) else (value,)):
            if item not in allowed:
                raise _fail(where, item, f"one of {', '.join(map(repr, allowed))}"
                                         f"{did_you_mean(str(item), allowed)}")
        return value
    lo, hi = allowed
    if typ is int and hi is None:
        hi = INT_MAX
    if typ is float and hi is None:
        hi = FLOAT_MAX
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        shown = f"{hi:g}" if hi == FLOAT_MAX else hi
        raise _fail(where, value, f"a value in {'-inf' if lo is None else lo} .. "
                                  f"{'inf' if hi is None else shown}")
    return value


def check_param(table: dict[str, Param], name: str, value):
    """Check ``value`` of parameter ``name`` of ``table`` (named ``[section] name`` in errors);
    an unknown name gets a "did you mean"."""
    if name not in table:
        raise ConfigError(f"unknown parameter {name!r}{did_you_mean(name, table)}")
    section, typ, _default, allowed, _doc = table[name]
    return check_value(f"[{section}] {name}", value, typ, allowed)


def _fmt_default(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (tuple, list)):
        return "all" if value else "[]"
    return "unset" if value is None else repr(value)


def _fmt_allowed(typ, allowed) -> str:
    if allowed is None:
        return "true / false" if typ is bool else ""
    if all(isinstance(c, str) for c in allowed):
        return " \\| ".join(f"`{c}`" for c in allowed)
    lo, hi = allowed
    return f"{'-inf' if lo is None else lo} .. {'inf' if hi is None else hi}"


def params_markdown(tables: list[tuple[str, dict[str, Param]]]) -> str:
    """Markdown tables of the parameters, one per ``(section, table)`` pair, each listing the
    rows of ``table`` that belong to ``section`` (docs/config.md embeds the result; a test keeps
    the page and the tables in step)."""
    lines = []
    for section, table in tables:
        rows = [(name, spec) for name, spec in table.items() if spec[0] == section]
        lines += [f"#### `[{section}]`" + (" thresholds (with `articles` or `archive`)"
                                           if section == "signals" else ""), "",
                  "| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
        for name, (_s, typ, default, allowed, doc) in rows:
            lines.append(f"| `{name}` | {typ.__name__} | {_fmt_default(default)} | "
                         f"{_fmt_allowed(typ, allowed)} | {doc.replace('|', '/')} |")
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- ladder marks ([signals])
# How a run combines the news marks with the limit-up ladder (backtests.features.ladder).
LADDER_SOURCES = ("news", "ladder", "news_and_ladder", "news_or_ladder")


def parse_streaks(values: Iterable, *, where: str = "[signals] streak"
                  ) -> tuple[frozenset[int], int | None]:
    """``(exact, at_least)`` of a streak list such as ``[1]``, ``[2, 3]`` or ``["3+"]``: the
    streaks listed one by one and the lower end of an open range (None: none). Items are
    integers >= 1 or strings ``"N+"``; ConfigError naming ``where`` otherwise."""
    if isinstance(values, (int, str)):
        values = [values]
    exact: set[int] = set()
    at_least = None
    for v in values:
        if isinstance(v, bool):
            v = None
        if isinstance(v, int) and v >= 1:
            exact.add(v)
            continue
        if isinstance(v, str) and v.endswith("+") and v[:-1].isdigit() and int(v[:-1]) >= 1:
            n = int(v[:-1])
            at_least = n if at_least is None else min(at_least, n)
            continue
        raise ConfigError(f"{where} = {list(values)!r}: {v!r} is not a streak; expected "
                          f'integers >= 1 (1 = 一进二) or "N+" for N boards or more, e.g. '
                          f'[1] or ["3+"]')
    return frozenset(exact), at_least

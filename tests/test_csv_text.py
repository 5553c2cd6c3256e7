"""backtests/core/csv_text.py: every cell writer against Python's own formatting, byte for byte,
on random values and on the edges (ties, -0.00, NaN, huge values, dates, non-ASCII text)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.core.csv_text import csv_join, day_cells, fixed_cells, int_cells, text_cells

EDGES = [0.0, -0.0, 0.125, 0.375, -0.005, 0.005, 2.675, 1.005, -1e-9, 0.0049999999999999,
         1e15, -1e15, 2.0 ** 52, 4503599627370495.5, 1e300, 5e-324, 123456.785, -99.995,
         0.045, 1.015, 999999.995]


def python(values, decimals, empty):
    out = []
    for v in np.asarray(values, dtype=float) + 0.0:
        out.append("" if empty and not np.isfinite(v) else format(float(v), f".{decimals}f"))
    return out


@pytest.mark.parametrize("decimals", [0, 1, 2, 4, 6, 10])
@pytest.mark.parametrize("empty", [True, False])
def test_fixed_cells_equal_python(decimals, empty):
    rng = np.random.default_rng(decimals)
    values = np.concatenate([
        rng.normal(0, 1, 20_000),
        np.round(rng.lognormal(2, 2, 20_000), 2) * rng.choice([-1, 1], 20_000),   # cents
        np.round(rng.uniform(-1, 1, 5_000), decimals + 1),                        # many ties
        np.array(EDGES), -np.array(EDGES), [np.nan, np.inf, -np.inf]])
    assert fixed_cells(values, decimals, empty_nonfinite=empty).texts() == \
        python(values, decimals, empty)


def test_int_cells():
    values = np.array([0, -1, 7, 100, -123456789012345, 2 ** 62], dtype=np.int64)
    assert int_cells(values).texts() == [str(v) for v in values.tolist()]
    assert int_cells(pd.Series([3.0, 4.0])).texts() == ["3", "4"]
    assert int_cells(np.zeros(0, np.int64)).texts() == []


def test_day_cells_every_day_of_four_centuries():
    days = np.arange(np.datetime64("1900-01-01"), np.datetime64("2300-01-01"))
    assert day_cells(days).texts() == [str(d) for d in days]
    assert day_cells(pd.Series(pd.to_datetime(["2024-02-29", "2025-12-31"]))).texts() == [
        "2024-02-29", "2025-12-31"]
    with pytest.raises(ValueError, match="between 1000-01-01"):
        day_cells(np.array(["NaT"], dtype="datetime64[D]"))


def test_csv_join():
    text = csv_join(("date", "name", "value"), [
        day_cells(np.array(["2024-12-02", "2024-12-03"], dtype="datetime64[D]")),
        ["天娱数科", '"a, b"'], fixed_cells([1.5, np.nan], 2)])
    assert text == 'date,name,value\n2024-12-02,天娱数科,1.50\n2024-12-03,"a, b",\n'
    assert csv_join(("a", "b"), [[], []]) == "a,b\n"
    assert csv_join(("a",), [text_cells(["x", ""])]) == "a\nx\n\n"
    with pytest.raises(ValueError, match="different lengths"):
        csv_join(("a", "b"), [["x"], ["y", "z"]])
    with pytest.raises(TypeError, match="not None"):
        text_cells(["x", None])


def test_run_folder_text_and_side_cells():
    """The run folder's text cells: Arrow for plain strings, Python where a cell needs quoting
    or is not a string; both give what ``str`` and the CSV quoting rule give."""
    from backtests.report import run_folder

    def cells(column):
        out = run_folder._text(column)
        return out if isinstance(out, list) else out.texts()

    assert cells(["600000", None, float("nan"), "天娱数科"]) == ["600000", "", "", "天娱数科"]
    assert cells(["a,b", 'say "x"', "two\nlines", "plain"]) == [
        '"a,b"', '"say ""x"""', '"two\nlines"', "plain"]
    assert cells([1, "x", 2.5]) == ["1", "x", "2.5"]
    assert cells(pd.Series(["entry", "stop_loss"], dtype="str")) == ["entry", "stop_loss"]
    assert run_folder._side(np.array([1, -1, 1])) == ["buy", "sell", "buy"]
    assert run_folder._side(["buy", -1]) == ["buy", "sell"]

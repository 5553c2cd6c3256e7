"""The backtrader reference agrees with the engine on every hype-trading rule of issue 11:
entry filters, the sentiment gate, the trailing stop, the theme-cooling exit, user entries and
exits — on the hand-built ledger markets and on random markets with every rule switched on."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("backtrader")

from backtests.reference.crosscheck import crosscheck, format_report  # noqa: E402
from test_engine_filters import (ALL_RULES, MARKS3, THEMED, _ladder_market,  # noqa: E402
                                 _three_boards)
from test_state import _hand_market, _random_market  # noqa: E402


def check(market, marks, params, exits=None):
    res = crosscheck(market, pd.DataFrame(marks), params, exits=exits)
    assert res.ok, format_report(res)
    return res


@pytest.mark.parametrize("params", [
    {"boards": ["main"]}, {"exclude_st": True}, {"min_price": 10.0}, {"max_price": 9.6},
    {"max_open_gap": 0.05}, {"min_open_gap": 0.01}, {"max_amount": 1e9},
])
def test_entry_filters_agree(params):
    res = check(_three_boards(st=(False, True, False)), MARKS3,
                dict(params, cash=100_000.0, fixed_cash=10_000.0))
    assert sum(res.reference.skipped.values()) > 0


@pytest.mark.parametrize("params", [
    {"min_streak": 1, "max_streak": 1}, {"dragon_head": 1}, {"dragon_head": 2},
    {"min_theme_heat": 4.5}, {"max_per_theme": 2},
    {"min_limit_ups": 2}, {"min_height": 3}, {"min_promotion_1": 0.6},
    {"max_broken_rate": 0.3},
])
def test_ladder_rules_and_gate_agree(params):
    check(_ladder_market(), THEMED, dict(params, cash=100_000.0, fixed_cash=10_000.0))
    marks = [{"date": "2024-03-05", "code": "600002"}, {"date": "2024-03-05", "code": "600004"}]
    check(_hand_market(), marks, dict(params, cash=100_000.0, fixed_cash=10_000.0))


@pytest.mark.parametrize("seed", [1, 2, 4])
@pytest.mark.parametrize("exit_at", ["close", "next_open"])
def test_random_markets_with_every_rule(seed, exit_at):
    m = _random_market(seed, n_sessions=30, n_stocks=10)
    rng = np.random.default_rng(seed)
    cells = [(t, j) for t in range(30) for j in range(10) if rng.random() < 0.3]
    marks = pd.DataFrame({"date": [m.sessions[t] for t, _ in cells],
                          "code": [m.codes[j] for _, j in cells],
                          "score": rng.integers(1, 4, len(cells)).astype(float),
                          "theme": rng.choice(["A", "B", ""], len(cells)),
                          "theme_heat": rng.integers(0, 4, len(cells))})
    ex = [(t, j) for t in range(30) for j in range(10) if rng.random() < 0.05]
    exits = pd.DataFrame({"date": [m.sessions[t] for t, _ in ex],
                          "code": [m.codes[j] for _, j in ex]})
    res = crosscheck(m, marks, dict(ALL_RULES, cash=1e6, position_size=0.2, exit_at=exit_at),
                     exits=exits)
    assert res.ok, format_report(res)
    assert res.trades > 4 and sum(res.reference.skipped.values()) > 0
    reasons = set(res.engine.trades["reason"])
    assert reasons & {"trailing_stop", "theme_cool", "signal"}


def test_wide_user_entries_and_exits_agree():
    m = _random_market(7, n_sessions=20, n_stocks=6)
    rng = np.random.default_rng(7)
    scores = np.where(rng.random((20, 6)) < 0.25, rng.random((20, 6)), np.nan)
    entries = pd.DataFrame(scores, index=pd.DatetimeIndex(m.sessions), columns=list(m.codes))
    exits = pd.DataFrame(rng.random((20, 6)) < 0.1, index=pd.DatetimeIndex(m.sessions),
                         columns=list(m.codes))
    res = crosscheck(m, entries, {"exit_on_break": False, "max_hold": 4}, exits=exits)
    assert res.ok, format_report(res) and res.trades > 0
    assert "signal" in set(res.engine.trades["reason"])

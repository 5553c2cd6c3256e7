"""Ledger tests of the hype-trading rules (issue 11): entry filters, the sentiment gate, the
trailing stop, the theme-cooling exit, user entries and exits — one small hand-computed market
per rule — and the no-look-ahead proof: truncating the market after session t changes no
decision up to t.

Fees as in test_engine_ledger: Dec 2024, commission max(0.025% x value, 5.00), stamp duty 0.05%
(sells), transfer 0.001% rounded half-up to the cent.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.engine.backtest import run_backtest, toy_market
from backtests.core.errors import ConfigError, DataError
from backtests.data.market import Market
from strategies import pack_params
from test_engine_ledger import FLAT, cash, market, rows
from test_state import _hand_market, _random_market, _truncate


def run(mkt, marks, exits=None, **params):
    base = {"cash": 100_000.0, "fixed_cash": 10_000.0}
    base.update(params)
    return run_backtest(mkt, pd.DataFrame(marks), base, exits=exits)


def skipped(res):
    return {k[len("skipped_"):]: int(v) for k, v in res.stats.items()
            if k.startswith("skipped_") and v}


def buys(res):
    o = res.orders
    return o.loc[o["side"] == "buy", "code"].tolist()


# ---------------------------------------------------------------- exits

def test_trailing_stop_from_the_highest_close():
    # Buy 1000 at 10.00; closes 10.20, 11.22 (limit-up, the high), 10.60 <= 11.22 x 0.95 =
    # 10.659: trailing stop, sold at the next open 10.40. No break exit, to isolate the rule.
    mkt = market("2024-12-16", ["002354"],
                 [[FLAT], [(10.30, 11.22, 10.30, 11.22)], [(11.00, 11.10, 10.50, 10.60)],
                  [(10.40, 10.60, 10.30, 10.50)]], prev_close=10.00)
    res = run(mkt, [{"date": "2024-12-16", "code": "002354"}], exit_on_break=False,
              trailing_stop=0.05)
    assert rows(res) == [
        ("2024-12-16", "002354", "buy", 1000, 10.00, "filled", "", 5.00, 0.0, 0.10, "", 0),
        ("2024-12-19", "002354", "sell", 1000, 10.40, "filled", "", 5.00, 5.20, 0.10,
         "trailing_stop", 0),
    ]
    assert cash(res)[-1] == pytest.approx(89_994.90 + 10_400 - 10.30)
    # 10.70 would stay above 10.659: no exit at all
    bars = [[FLAT], [(10.30, 11.22, 10.30, 11.22)], [(11.00, 11.10, 10.50, 10.70)]]
    res = run(market("2024-12-16", ["002354"], bars, prev_close=10.00),
              [{"date": "2024-12-16", "code": "002354"}], exit_on_break=False,
              trailing_stop=0.05)
    assert len(res.trades) == 1


def test_theme_cooling_exit():
    # Theme AI is hot on 12-16 (heat 5) and 12-17 (a mark on the held stock, heat 3: ignored as
    # an entry, skip_held), cold on 12-18 (no mark: heat 0 < 1): sold at the 12-19 open.
    bars = [[FLAT], [(10.30, 10.60, 10.20, 10.40)], [(10.40, 10.60, 10.20, 10.40)],
            [(10.50, 10.60, 10.20, 10.40)]]
    mkt = market("2024-12-16", ["002354"], bars, prev_close=10.00)
    marks = [{"date": "2024-12-16", "code": "002354", "theme": "AI", "theme_heat": 5},
             {"date": "2024-12-17", "code": "002354", "theme": "AI", "theme_heat": 3}]
    res = run(mkt, marks, exit_on_break=False, exit_theme_heat=1.0)
    assert [r[2:5] + (r[10],) for r in rows(res)] == [
        ("buy", 1000, 10.00, ""), ("sell", 1000, 10.50, "theme_cool")]
    assert str(res.trades["date"].iloc[1].date()) == "2024-12-19"
    # a window of 2 sessions keeps 12-17's heat in the sum on 12-18: sold a session later
    res = run(mkt, marks, exit_on_break=False, exit_theme_heat=1.0, theme_window=2)
    assert len(res.trades) == 1


@pytest.mark.parametrize("exit_at, date, price", [("close", "2024-12-17", 10.40),
                                                  ("next_open", "2024-12-18", 10.40)])
def test_user_exit_signal(exit_at, date, price):
    bars = [[FLAT], [(10.30, 10.60, 10.20, 10.40)], [(10.40, 10.60, 10.20, 10.50)]]
    mkt = market("2024-12-16", ["002354"], bars, prev_close=10.00)
    exits = pd.DataFrame({"date": ["2024-12-17"], "code": ["002354"]})
    res = run(mkt, [{"date": "2024-12-16", "code": "002354"}], exits=exits,
              exit_on_break=False, exit_at=exit_at)
    sell = rows(res)[1]
    assert (sell[0], sell[2], sell[4], sell[10]) == (date, "sell", price, "signal")
    # the wide boolean form gives the same run
    wide = pd.DataFrame({"002354": [False, True, False]}, index=pd.to_datetime(
        ["2024-12-16", "2024-12-17", "2024-12-18"]))
    again = run(mkt, [{"date": "2024-12-16", "code": "002354"}], exits=wide,
                exit_on_break=False, exit_at=exit_at)
    assert rows(again) == rows(res)


def test_user_entries_as_a_wide_score_frame():
    mkt = market("2024-12-16", ["000001", "002354"], [[FLAT, FLAT], [FLAT, FLAT]],
                 prev_close=10.00)
    wide = pd.DataFrame({"000001": [np.nan, 1.0], "002354": [2.0, np.nan]},
                        index=pd.to_datetime(["2024-12-16", "2024-12-17"]))
    res = run_backtest(mkt, wide, {"cash": 100_000.0, "fixed_cash": 10_000.0,
                                   "exit_on_break": False})
    assert [(str(d.date()), c) for d, c in zip(res.orders["date"], res.orders["code"])] == [
        ("2024-12-16", "002354"), ("2024-12-17", "000001")]
    bad = wide.rename(columns={"000001": "999999"})
    with pytest.raises(DataError, match="code '999999' is not in the market data"):
        run_backtest(mkt, bad, {})
    with pytest.raises(DataError, match="exits row 2: date 2024-12-21"):
        run_backtest(mkt, wide, {}, exits=pd.DataFrame({"date": ["2024-12-21"],
                                                        "code": ["000001"]}))


# ---------------------------------------------------------------- entry filters

def _three_boards(st=(False, False, False), volume=None):
    """300001 ChiNext, 600001 main board, 688001 STAR (codes in this order). Session 0 closes
    10.20, 9.60, 10.20; the marks are on session 1, whose opens are 10.71 (+5.00%), 9.60 (+0%)
    and 10.82 (+6.08%)."""
    sessions = np.array(["2024-12-16", "2024-12-17"], dtype="datetime64[D]")
    o = [[10.0, 9.8, 10.0], [10.71, 9.60, 10.82]]
    h = [[10.5, 10.0, 10.5], [11.0, 9.90, 11.5]]
    lo = [[9.8, 9.6, 9.8], [10.6, 9.50, 10.7]]
    c = [[10.2, 9.6, 10.2], [10.9, 9.80, 11.0]]
    return toy_market(sessions, ["300001", "600001", "688001"], o, h, lo, c, volume=volume,
                      prev_close=10.00, is_st=np.asarray(st))


MARKS3 = [{"date": "2024-12-17", "code": c} for c in ("300001", "600001", "688001")]


@pytest.mark.parametrize("params, entered, skips", [
    ({}, ["300001", "600001", "688001"], {}),
    ({"boards": ["main"]}, ["600001"], {"board": 2}),
    ({"boards": ["chinext", "star"]}, ["300001", "688001"], {"board": 1}),
    ({"exclude_st": True}, ["300001", "688001"], {"st": 1}),
    ({"min_price": 10.0}, ["300001", "688001"], {"price": 1}),          # 600001 closed 9.60
    ({"max_price": 9.6}, ["600001"], {"price": 2}),                     # 9.60 <= 9.60 kept
    ({"max_open_gap": 0.05}, ["300001", "600001"], {"open_gap": 1}),    # +5.00% kept
    ({"min_open_gap": 0.01}, ["300001", "688001"], {"open_gap": 1}),
])
def test_entry_filters(params, entered, skips):
    res = run(_three_boards(st=(False, True, False)), MARKS3, **params)
    assert buys(res) == entered
    assert skipped(res) == skips
    assert res.stats["orders"] == len(entered)       # a skipped mark is not an order


def test_amount_filter_reads_the_previous_session():
    vol = np.array([[1e6, 2e6, 3e6], [1.0, 1.0, 1.0]])     # session 1 volumes are tiny
    mkt = _three_boards(volume=vol)
    # previous amounts: 300001 1e6 x 10.20, 600001 2e6 x 9.60, 688001 3e6 x 10.20
    res = run(mkt, MARKS3, min_amount=15e6, max_amount=25e6)
    assert buys(res) == ["600001"] and skipped(res) == {"amount": 2}
    res = run(mkt, MARKS3[:1] + [{"date": "2024-12-16", "code": "600001"}], min_amount=1.0)
    assert skipped(res) == {"amount": 1}             # no previous session at the first one


def _ladder_market():
    """Sessions 0-2; 600001 limit-up at 0 and 1 (streak 2), 600002 at 1 (streak 1), 600003
    never; marks on session 2 (open 10.00-ish, below every limit)."""
    up0, up1 = 11.00, 12.10
    o = [[10.5, 10.0, 10.0], [11.5, 10.5, 10.0], [12.0, 11.5, 10.1]]
    h = [[up0, 10.2, 10.2], [up1, up0, 10.2], [12.5, 11.8, 10.3]]
    lo = [[10.5, 9.9, 9.9], [11.5, 10.5, 9.9], [11.9, 11.2, 10.0]]
    c = [[up0, 10.0, 10.0], [up1, up0, 10.0], [12.2, 11.5, 10.2]]
    sessions = np.array(["2024-12-16", "2024-12-17", "2024-12-18"], dtype="datetime64[D]")
    return toy_market(sessions, ["600001", "600002", "600003"], o, h, lo, c, prev_close=10.00)


THEMED = [{"date": "2024-12-18", "code": c, "score": s, "theme": "X", "theme_heat": 4}
          for c, s in (("600001", 1.0), ("600002", 1.0), ("600003", 3.0))]


@pytest.mark.parametrize("params, entered, skips", [
    ({"min_streak": 1}, ["600002", "600001"], {"streak": 1}),
    ({"min_streak": 1, "max_streak": 1}, ["600002"], {"streak": 2}),
    ({"dragon_head": 1}, ["600001"], {"dragon_head": 2}),
    ({"dragon_head": 2}, ["600001", "600002"], {"dragon_head": 1}),
    ({"min_theme_heat": 4.0}, ["600003", "600001", "600002"], {}),
    ({"min_theme_heat": 4.5}, [], {"theme_heat": 3}),
    ({"max_per_theme": 2}, ["600003", "600001"], {"max_per_theme": 1}),
])
def test_ladder_filters_and_the_dragon_head(params, entered, skips):
    # priority: 600003 (score 3), then 600001, 600002 (score 1, code order)
    res = run(_ladder_market(), THEMED, **params)
    assert sorted(buys(res)) == sorted(entered) and skipped(res) == skips
    if params.get("dragon_head") or params.get("max_per_theme"):
        assert buys(res) == entered                  # entered in mark priority order


def test_dragon_head_needs_a_theme_and_ranks_within_it():
    marks = [dict(m, theme="Y") if m["code"] == "600001" else m for m in THEMED]
    marks.append({"date": "2024-12-18", "code": "600003", "score": 0.5, "theme": ""})
    res = run(_ladder_market(), marks[:3], dragon_head=1)
    # 600001 is the head of Y; 600002 heads X (streak 1 > 0 of 600003)
    assert buys(res) == ["600001", "600002"] and skipped(res) == {"dragon_head": 1}


def test_max_per_theme_frees_a_slot_when_a_position_is_sold():
    bars = [[FLAT, FLAT], [(10.30, 10.40, 10.10, 10.20), FLAT], [FLAT, FLAT]]
    mkt = market("2024-12-16", ["000001", "000002"], bars, prev_close=10.00)
    marks = [{"date": "2024-12-16", "code": "000001", "theme": "X"},
             {"date": "2024-12-16", "code": "000002", "theme": "X"},
             {"date": "2024-12-17", "code": "000002", "theme": "X"}]
    res = run(mkt, marks, max_per_theme=1, exit_on_break=True)
    # 000002 waits while 000001 holds theme X; 000001 breaks at once and is sold at the 12-17
    # open, before that session's entries, which frees the slot.
    assert [(r[0], r[1], r[2]) for r in rows(res)] == [
        ("2024-12-16", "000001", "buy"), ("2024-12-17", "000001", "sell"),
        ("2024-12-17", "000002", "buy"), ("2024-12-18", "000002", "sell")]
    assert skipped(res) == {"max_per_theme": 1}


# ---------------------------------------------------------------- sentiment gate

@pytest.mark.parametrize("key, value, reason", [
    ("min_limit_ups", 2, None), ("min_limit_ups", 3, "gate_limit_ups"),
    ("max_limit_downs", 0, None),
    ("min_height", 2, None), ("min_height", 3, "gate_height"),
    ("min_promotion_1", 0.5, None), ("min_promotion_1", 0.6, "gate_promotion_1"),
    ("min_promotion_2plus", 0.0, "gate_promotion_2plus"),      # none to promote: unknown
    ("max_broken_rate", 0.34, None), ("max_broken_rate", 0.3, "gate_broken_rate"),
])
def test_sentiment_gate_reads_the_previous_session(key, value, reason):
    # test_state._hand_market: session 1 (2024-03-04) has 2 limit-ups, height 2, 晋级率 1/2,
    # 炸板率 1/3, no limit-down, no stock at streak >= 2 the session before. Marks on session 2.
    mkt = _hand_market()
    marks = [{"date": "2024-03-05", "code": "600002"}, {"date": "2024-03-05", "code": "600004"}]
    res = run(mkt, marks, **{key: value})
    assert skipped(res) == ({} if reason is None else {reason: 2})
    assert len(buys(res)) == (2 if reason is None else 0)


def test_gate_at_the_first_session_has_no_previous_session():
    mkt = _hand_market()
    res = run(mkt, [{"date": "2024-03-01", "code": "600002"}], min_limit_ups=0)
    assert skipped(res) == {"gate_limit_ups": 1}


# ---------------------------------------------------------------- parameters

def test_filter_parameters_are_checked():
    with pytest.raises(ConfigError, match=r"\[filters\] boards = 'mian': expected one of "
                                          r".*did you mean \"main\""):
        pack_params({"boards": ["mian"]})
    with pytest.raises(ConfigError, match=r"\[filters\] boards = \[\]: expected at least one"):
        pack_params({"boards": []})
    with pytest.raises(ConfigError, match=r"\[gate\] min_promotion_1 = 1.5: expected a value"):
        pack_params({"min_promotion_1": 1.5})
    with pytest.raises(ConfigError, match='did you mean "dragon_head"'):
        pack_params({"dragon_heads": 1})
    with pytest.raises(ConfigError, match="not a parameter of strategy 'hold_n'"):
        pack_params({"name": "hold_n", "hold": 2, "trailing_stop": 0.1})
    row = pack_params({"boards": ["star", "main"]})
    from backtests.core.records import P_BOARDS_MASK, P_GATE_MIN_HEIGHT
    assert row[P_BOARDS_MASK] == 1 + 4 and np.isnan(row[P_GATE_MIN_HEIGHT])


# ---------------------------------------------------------------- no look-ahead

ALL_RULES = dict(exclude_st=True, min_price=5.0, max_price=30.0, min_amount=1.0,
                 max_open_gap=0.09, min_open_gap=-0.09, max_streak=5, min_theme_heat=1.0,
                 dragon_head=2, max_per_theme=2, min_limit_ups=0, max_limit_downs=20,
                 min_height=0, max_broken_rate=1.0, trailing_stop=0.05, exit_theme_heat=1.0,
                 theme_window=2, stop_loss=0.08, take_profit=0.3, max_hold=6,
                 exit_on_break=False)


@pytest.mark.parametrize("seed", [1, 4])
@pytest.mark.parametrize("exit_at", ["close", "next_open"])
def test_no_look_ahead_every_decision(seed, exit_at):
    """Cut the market (and the marks and exit signals dated after t) after session t: every
    order decided up to t is the same as in the full run."""
    m = _random_market(seed, n_sessions=30, n_stocks=10)
    rng = np.random.default_rng(seed)
    cells = [(t, j) for t in range(30) for j in range(10) if rng.random() < 0.3]
    marks = pd.DataFrame({"date": [m.sessions[t] for t, _ in cells],
                          "code": [m.codes[j] for _, j in cells],
                          "score": rng.random(len(cells)),
                          "theme": rng.choice(["A", "B", ""], len(cells)),
                          "theme_heat": rng.integers(0, 4, len(cells))})
    ex = [(t, j) for t in range(30) for j in range(10) if rng.random() < 0.05]
    exits = pd.DataFrame({"date": [m.sessions[t] for t, _ in ex],
                          "code": [m.codes[j] for _, j in ex]})
    params = dict(ALL_RULES, cash=1e6, position_size=0.2, exit_at=exit_at)
    full = run_backtest(m, marks, params, exits=exits)
    assert sum(v for k, v in full.stats.items() if k.startswith("skipped_")) > 0
    assert full.stats["fills"] > 4
    for t in range(1, 30, 2):
        cut: Market = _truncate(m, t)
        day = np.datetime64(m.sessions[t])
        keep = marks["date"].to_numpy().astype("datetime64[D]") <= day
        keep_x = exits["date"].to_numpy().astype("datetime64[D]") <= day
        part = run_backtest(cut, marks.loc[keep], params, exits=exits.loc[keep_x])
        mine = full.orders.loc[full.orders["date"] <= pd.Timestamp(day)].reset_index(drop=True)
        pd.testing.assert_frame_equal(part.orders, mine)
        np.testing.assert_array_equal(part.equity["equity"].to_numpy(),
                                      full.equity["equity"].to_numpy()[: t + 1])


@pytest.mark.parametrize("seed", [2, 5])
@pytest.mark.parametrize("rule", [ALL_RULES, {"exclude_st": True}, {"max_price": 11.0},
                                  {"min_amount": 1.0}, {"max_streak": 1},
                                  {"min_theme_heat": 2.0}, {"dragon_head": 1},
                                  {"min_open_gap": 0.0}, {"max_open_gap": 0.0}],
                         ids=lambda r: "all" if len(r) > 1 else next(iter(r)))
def test_gathered_mark_state_gives_the_same_backtest(seed, rule):
    """A grid gathers each mark's market state once (``with_mark_state``); a single run lets
    the kernel gather it: both give the same skips and the same ledger, rule by rule."""
    from backtests.engine.backtest import mark_index, market_arrays, marks_array
    from backtests.engine.filters_nb import mark_skips_nb, with_mark_state
    from backtests.engine.nb import simulate_nb

    m = _random_market(seed, n_sessions=40, n_stocks=12)
    rng = np.random.default_rng(seed)
    cells = [(t, j) for t in range(40) for j in range(12) if rng.random() < 0.3]
    marks = pd.DataFrame({"date": [m.sessions[t] for t, _ in cells],
                          "code": [m.codes[j] for _, j in cells],
                          "score": rng.random(len(cells)),
                          "theme": rng.choice(["A", "B", ""], len(cells)),
                          "theme_heat": rng.integers(0, 4, len(cells))})
    params = dict(rule, cash=1e6, position_size=0.2)
    prow = pack_params(params)
    mk = market_arrays(m)
    mi = mark_index(marks_array(m, marks), marks, market=m)
    gathered = with_mark_state(mk, mi)
    assert gathered.prev_close.shape == mi.stock.shape and mi.prev_close.shape == (0,)
    skips = mark_skips_nb(mk, mi, prow)
    assert skips.any()
    np.testing.assert_array_equal(mark_skips_nb(mk, gathered, prow), skips)
    a, b = simulate_nb(mk, mi, prow, True), simulate_nb(mk, gathered, prow, True)
    assert a[3].tobytes() == b[3].tobytes()
    np.testing.assert_array_equal(a[2], b[2])
    np.testing.assert_array_equal(a[4], b[4])

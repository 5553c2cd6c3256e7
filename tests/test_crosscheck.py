"""Crosscheck: the numba engine and the backtrader reference agree to the cent.

Small hand-built panels, a hypothesis property test over random panels, marks and parameters,
the shipped configs through ``hypebt crosscheck`` in-process, and the real panel (marks from
real limit-up events and from the real articles; skipped without the shared data).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtests.cli import main as cli
from backtests.core.rules import boards_of, limit_prices, limit_ratios
from backtests.data.market import select_market
from backtests.engine.backtest import run_backtest, toy_market
from backtests.reference.crosscheck import (
    Difference,
    compare,
    crosscheck,
    format_report,
    format_table,
)
from tests.conftest import NEWS, REAL_NAMES, REAL_NAMES_2023, REAL_PANEL, REPO

DAYS = np.array(["2024-09-02", "2024-09-03", "2024-09-04", "2024-09-05"], dtype="datetime64[D]")


def small_market():
    """Two stocks, four sessions: a limit-up close, a break, a 一字跌停 and a suspension."""
    nan = np.nan
    o = [[10.00, 20.00], [11.00, 21.00], [9.90, nan], [9.00, 22.00]]
    h = [[11.00, 20.50], [11.00, 21.50], [9.90, nan], [9.50, 22.50]]
    lo = [[9.90, 19.80], [10.50, 20.80], [9.90, nan], [8.95, 21.50]]
    c = [[11.00, 20.20], [10.80, 21.20], [9.90, nan], [9.20, 22.00]]
    return toy_market(DAYS, ["000001", "300001"], o, h, lo, c, prev_close=[10.00, 20.00])


SMALL_MARKS = pd.DataFrame({"date": ["2024-09-02", "2024-09-02", "2024-09-04"],
                            "code": ["000001", "300001", "300001"], "score": [1.0, 2.0, 1.0]})


@pytest.mark.parametrize("params", [
    {},
    {"exit_at": "close"},
    {"entry": "limit", "limit_fill": "touched"},
    {"at_limit_open": "reject", "slippage_ticks": 1},
    {"name": "hold_n", "hold": 1, "exit_at": "close"},
])
def test_small_panel_agrees(params):
    res = crosscheck(small_market(), SMALL_MARKS, params)
    assert res.ok, format_report(res)
    assert res.sessions == 4 and res.orders >= 1


def test_compare_reports_each_changed_figure():
    res = crosscheck(small_market(), SMALL_MARKS, {})
    assert res.ok and res.trades >= 2
    eng = res.engine
    trades = eng.trades.copy()
    trades.loc[0, "commission"] += 0.01           # a fee one cent off
    trades.loc[1, "price"] += 0.01                # a price one tick off
    orders = eng.orders.copy()
    orders.loc[0, "status"] = "rejected"
    equity = eng.equity.copy()
    equity.loc[2, "cash"] -= 0.004                # float noise below a cent: not a difference
    equity.loc[3, "equity"] += 0.02
    tampered = eng._replace(trades=trades, orders=orders, equity=equity)
    diffs = compare(tampered, res.reference)
    got = {(d.ledger, d.date, d.field) for d in diffs}
    t0, t1 = trades["date"].dt.strftime("%Y-%m-%d")[:2]
    assert got == {("trades", t0, "commission"), ("trades", t1, "price"),
                   ("orders", t0, "status"), ("equity", "2024-09-05", "equity")}


def test_compare_reports_missing_rows():
    res = crosscheck(small_market(), SMALL_MARKS, {})
    eng = res.engine
    fewer = eng._replace(trades=eng.trades.iloc[1:], equity=eng.equity.iloc[:-1])
    diffs = compare(fewer, res.reference)
    rows = [d for d in diffs if d.field == "(row)"]
    assert [(d.ledger, d.engine, d.reference) for d in rows] == [
        ("trades", "missing", "present"), ("equity", "missing", "present")]


def test_format_table_is_aligned_and_capped():
    diffs = [Difference("trades", "2024-09-02", "000001", "buy", "commission", 25.0, 25.01)] * 3
    text = format_table(diffs, max_rows=2)
    assert text.splitlines() == [
        "ledger  date        code    side  field       engine  backtrader",
        "------  ----------  ------  ----  ----------  ------  ----------",
        "trades  2024-09-02  000001  buy   commission  25.00   25.01",
        "trades  2024-09-02  000001  buy   commission  25.00   25.01",
        "... and 1 more",
    ]


# ---------------------------------------------------------------- property test
CODES = ("000001", "300001", "600001", "688001", "830001")   # main, ChiNext, main, STAR, BSE
STARTS = ("2023-08-21", "2024-03-04", "2024-09-02")           # the first straddles 2023-08-28


def random_market(seed: int, n_sessions: int, n_stocks: int, start: str):
    """Bars on the 0.01 grid inside each session's price limits, with 一字板, opens at the
    limit, limit-down seals and suspensions mixed in; about one stock in five starts without a
    reference price (no limit on its first session, like a new listing)."""
    rng = np.random.default_rng(seed)
    codes = np.array(sorted(rng.choice(CODES, size=n_stocks, replace=False)))
    sessions = np.busday_offset(np.datetime64(start), np.arange(n_sessions), roll="forward")
    ratio = limit_ratios(boards_of(codes), np.zeros(n_stocks, bool), sessions)
    shape = (n_sessions, n_stocks)
    o, h, lo, c = (np.full(shape, np.nan) for _ in range(4))
    p0 = np.round(rng.uniform(3, 40, n_stocks), 2)
    prev = p0.copy()
    no_ref = rng.random(n_stocks) < 0.2
    for t in range(n_sessions):
        up, down = limit_prices(np.where(no_ref & (t == 0), np.nan, prev), ratio[t])
        band_up, band_down = limit_prices(prev, np.full(n_stocks, 0.3))
        up, down = np.where(np.isfinite(up), up, band_up), np.where(np.isfinite(down), down,
                                                                     band_down)
        for j in range(n_stocks):
            kind = rng.choice(["bar", "bar", "bar", "up_seal", "up_open", "up_close", "down_seal",
                               "down_open", "none"], p=[.35, .1, .1, .08, .1, .12, .05, .05, .05])
            u, d = up[j], down[j]
            grid = np.round(np.arange(d, u + 0.005, 0.01), 2)

            def pick(grid=grid):
                return float(rng.choice(grid))

            if kind == "none":
                continue
            if kind == "up_seal":
                bar = (u, u, u, u)
            elif kind == "down_seal":
                bar = (d, d, d, d)
            elif kind == "up_open":
                low = pick()
                bar = (u, u, low, float(rng.choice([u, max(low, pick())])))
            elif kind == "down_open":
                high = pick()
                bar = (d, high, d, min(high, pick()))
            else:
                a, b = pick(), pick()
                close = u if kind == "up_close" else b
                hi, low = max(a, close, pick()), min(a, close, pick())
                bar = (a, hi, low, close)
            o[t, j], h[t, j], lo[t, j], c[t, j] = bar
            prev[j] = bar[3]
    vol = np.round(rng.uniform(1e3, 1e6, shape), 0)
    return toy_market(sessions, codes, o, h, lo, c, vol, prev_close=np.where(no_ref, np.nan, p0))


def random_marks(seed, market, density):
    rng = np.random.default_rng(seed + 1)
    hit = rng.random(market.close.shape) < density
    t, j = np.nonzero(hit)
    return pd.DataFrame({"date": market.sessions[t], "code": market.codes[j],
                         "score": rng.choice([0.5, 1.0, 2.0], size=len(t))})


theme_params = st.fixed_dictionaries({
    "name": st.just("theme_hype"),
    "entry": st.sampled_from(["open", "limit"]),
    "limit_fill": st.sampled_from(["broken", "touched"]),
    "exit_on_break": st.booleans(),
    "exit_at": st.sampled_from(["next_open", "close"]),
    "stop_loss": st.sampled_from([0.0, 0.03, 0.08]),
    "take_profit": st.sampled_from([0.0, 0.05, 0.2]),
    "max_hold": st.sampled_from([0, 1, 3]),
    "max_positions": st.sampled_from([1, 2, 5]),
    "skip_held": st.booleans(),
})
hold_params = st.fixed_dictionaries({
    "name": st.just("hold_n"), "hold": st.integers(1, 3),
    "exit_at": st.sampled_from(["next_open", "close"]),
    "max_positions": st.sampled_from([1, 3]), "skip_held": st.booleans(),
})
common_params = st.fixed_dictionaries({
    "cash": st.sampled_from([20_000.0, 1_000_000.0]),
    "position_size": st.sampled_from([0.05, 0.3, 1.0]),
    "fixed_cash": st.sampled_from([0.0, 0.0, 7_000.0]),
    "commission_min": st.sampled_from([0.0, 5.0]),
    "slippage_ticks": st.integers(0, 2),
    "at_limit_open": st.sampled_from(["fill", "reject"]),
    "volume_cap": st.sampled_from([0.0, 0.0, 0.002, 0.05]),
})


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), n_sessions=st.integers(3, 14),
       n_stocks=st.integers(1, 5), start=st.sampled_from(STARTS),
       density=st.sampled_from([0.15, 0.4]),
       strategy=st.one_of(theme_params, hold_params), common=common_params)
def test_property_random_panels_agree(seed, n_sessions, n_stocks, start, density, strategy,
                                      common):
    m = random_market(seed, n_sessions, n_stocks, start)
    params = {**strategy, **common}
    res = crosscheck(m, random_marks(seed, m, density), params)
    assert res.ok, f"{params}\n{format_report(res)}"


# ---------------------------------------------------------------- CLI
def shipped_configs():
    """Every run or grid config in configs/ (the lexicons there have no [data] table)."""
    import tomllib

    out = []
    for path in sorted((REPO / "configs").glob("*.toml")):
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        if "data" in doc:
            out.append(pytest.param(path, "grid" in doc, doc["data"]["path"] != "demo",
                                    id=path.stem))
    return out


@pytest.mark.parametrize("path, grid, real", shipped_configs())
def test_cli_every_shipped_config_agrees(path, grid, real, request, capsys):
    if real:
        request.getfixturevalue("shared_data")
    argv = ["crosscheck", str(path)] + (["--sample", "6"] if grid else [])
    assert cli.main(argv) == 0, capsys.readouterr().out
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("crosscheck OK: ")
    if grid:
        assert out[0].startswith("crosscheck OK: 6 parameter set(s); engine and backtrader agree")
    else:
        assert out[0].endswith("sessions (within 0.01 CNY)")


def test_shipped_configs_include_the_demo_and_a_grid():
    names = {p.id for p in shipped_configs()}
    assert {"demo", "demo_grid", "real_doubao"} <= names


def test_cli_reports_a_difference_with_exit_1(capsys, monkeypatch, tmp_path):
    import backtests.reference.crosscheck as ref  # where crosscheck() looks it up

    original = ref.run_reference

    def one_cent_off(*args, **kwargs):
        res = original(*args, **kwargs)
        eq = res.equity.copy()
        eq.loc[len(eq) - 1, "cash"] += 0.01
        return res._replace(equity=eq)

    monkeypatch.setattr(ref, "run_reference", one_cent_off)
    assert cli.main(["crosscheck", str(REPO / "configs" / "demo.toml")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["ledger", "date", "code", "side", "field", "engine", "backtrader"]
    assert out[2].split()[:3] == ["equity", "2024-12-31", "cash"]
    assert out[-1].startswith("crosscheck FAILED: 1 difference(s) over ")


def test_cli_bad_input_exits_2(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[data]\npath = "demo"\n[signals]\nmarks = "m.csv"\n[strategy]\nentry = "x"\n',
                   encoding="utf-8")
    (tmp_path / "m.csv").write_text("date,code\n", encoding="utf-8")
    assert cli.main(["crosscheck", str(bad)]) == 2
    assert capsys.readouterr().err.startswith("Error: ")
    assert cli.main(["crosscheck", str(REPO / "configs" / "demo.toml"), "--max-rows", "0"]) == 2
    err = capsys.readouterr().err
    assert cli.main(["crosscheck", str(REPO / "configs" / "demo.toml"), "--sample", "3"]) == 2
    assert "has no [grid] table" in capsys.readouterr().err
    assert err.startswith("Error: --max-rows must be >= 1")


# ---------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def real_full(shared_data):
    """The whole real panel as a Market (loaded once for this module)."""
    from backtests.data.load import load_market

    return load_market(REAL_PANEL, names=[REAL_NAMES])


@pytest.fixture(scope="module")
def real_window(real_full):
    """A concept-sized slice of the real panel: 80 sessions, the 30 stocks with the most
    limit-up closes in it, and marks on the session after each limit-up close (追涨)."""
    full = real_full
    s0 = int(np.searchsorted(full.sessions, np.datetime64("2024-11-01")))
    rows = slice(s0, s0 + 80)
    c, up = full.close[rows], full.limit_up[rows]
    at_up = np.isfinite(c) & np.isfinite(up) & (np.abs(c - up) < 1e-6)
    keep = np.sort(np.argsort(-at_up.sum(axis=0), kind="stable")[:30])
    m = select_market(full, sessions=rows, stocks=keep)
    t, j = np.nonzero(at_up[:-1][:, keep])
    marks = pd.DataFrame({"date": m.sessions[t + 1], "code": m.codes[j],
                          "score": np.round(np.log1p(m.volume[t, j]), 3)})
    return m, marks


@pytest.mark.parametrize("params", [
    {"max_positions": 5, "position_size": 0.2},
    {"entry": "limit", "limit_fill": "touched", "exit_at": "close", "stop_loss": 0.05},
    {"entry": "limit", "max_hold": 3, "slippage_ticks": 1, "volume_cap": 0.001,
     "skip_held": False},
    {"name": "hold_n", "hold": 2, "max_positions": 8, "position_size": 0.12},
])
def test_real_limit_up_events_agree(real_window, params):
    m, marks = real_window
    res = crosscheck(m, marks, params)
    assert res.ok, format_report(res)
    assert res.trades > 10


def test_real_articles_config_agrees(shared_data, tmp_path, capsys):
    articles = [NEWS / "doubao_concept_20241216.json", NEWS / "articles_public.jsonl"]
    cfg = tmp_path / "articles.toml"
    cfg.write_text(
        "[data]\n"
        f'path = "{REAL_PANEL.as_posix()}"\n'
        f'names = ["{REAL_NAMES.as_posix()}", "{REAL_NAMES_2023.as_posix()}"]\n'
        'start = "2024-10-08"\nend = "2025-03-31"\n'
        "[signals]\n"
        f"articles = [{', '.join(f'{chr(34)}{a.as_posix()}{chr(34)}' for a in articles)}]\n"
        "[strategy]\nmax_positions = 20\nexit_at = \"close\"\nmax_hold = 5\n"
        "[portfolio]\nposition_size = 0.05\n", encoding="utf-8")
    assert cli.main(["crosscheck", str(cfg)]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert out.startswith("crosscheck OK")
    assert int(out.split(" trades")[0].split()[-1]) > 0


def test_engine_result_is_what_crosscheck_compares():
    """The crosscheck runs the real engine entry point, not a copy of it."""
    m = small_market()
    res = crosscheck(m, SMALL_MARKS, {"exit_at": "close"})
    direct = run_backtest(m, SMALL_MARKS, {"exit_at": "close"})
    pd.testing.assert_frame_equal(res.engine.trades, direct.trades)


# ---------------------------------------------------------------- disagreements found
def exact_cash_case():
    """Cash 287,449.72; 000001 takes 245,249.75 (4300 x 57.02 + 61.30 + 2.45), leaving exactly
    42,199.97, which is what 2100 x 20.09 + 10.55 + 0.42 of 000002 costs."""
    d = np.array(["2024-09-02"], dtype="datetime64[D]")
    m = toy_market(d, ["000001", "000002"], [[57.02, 20.09]], [[57.50, 20.30]],
                   [[56.80, 20.00]], [[57.10, 20.10]], prev_close=[57.00, 20.00])
    marks = pd.DataFrame({"date": ["2024-09-02"] * 2, "code": ["000001", "000002"],
                          "score": [2.0, 1.0]})
    return m, marks, {"cash": 287_449.72, "fixed_cash": 245_186.0}


def test_reference_fills_an_order_that_costs_exactly_the_cash_left():
    from backtests.reference.backtrader import run_reference

    m, marks, params = exact_cash_case()
    ref = run_reference(m, marks, params)
    assert ref.trades["shares"].tolist() == [4300, 2100]
    assert ref.trades["commission"].tolist() == [61.30, 10.55]
    assert ref.trades["transfer_fee"].tolist() == [2.45, 0.42]
    assert abs(ref.equity["cash"].iloc[0]) < 1e-6


def test_engine_fills_an_order_that_costs_exactly_the_cash_left():
    m, marks, params = exact_cash_case()
    res = crosscheck(m, marks, params)
    assert res.ok, format_report(res)


def exact_threshold_case():
    """000001 enters at 5.20 and closes at its limit-up 5.72 = 5.20 x (1 + 0.10); 000002 enters
    at 10.00 and closes at 9.30 = 10.00 x (1 - 0.07): take profit and stop loss both fire."""
    m = toy_market(DAYS[:2], ["000001", "000002"], [[5.20, 10.00], [5.80, 9.40]],
                   [[5.72, 10.00], [6.00, 9.60]], [[5.15, 9.20], [5.70, 9.20]],
                   [[5.72, 9.30], [5.90, 9.50]], prev_close=[5.20, 10.00])
    marks = pd.DataFrame({"date": ["2024-09-02"] * 2, "code": ["000001", "000002"],
                          "score": [2.0, 1.0]})
    return m, marks, {"fixed_cash": 10_000.0, "take_profit": 0.10, "stop_loss": 0.07,
                      "exit_on_break": False}


def test_engine_take_profit_and_stop_loss_fire_at_the_exact_threshold():
    m, marks, params = exact_threshold_case()
    res = crosscheck(m, marks, params)
    assert res.ok, format_report(res)


@pytest.fixture(scope="module")
def real_600410(real_full):
    """600410 around 2024-09-02 (real bars): it opens at 4.20 and closes at 3.99, exactly
    4.20 x (1 - 0.05); a mark on 2024-09-02."""
    full = real_full
    j = int(np.searchsorted(full.codes, "600410"))
    t = int(np.searchsorted(full.sessions, np.datetime64("2024-09-02")))
    rows, cols = slice(t - 1, t + 4), np.array([j])
    m = select_market(full, sessions=rows, stocks=cols)
    assert (m.open[1, 0], m.close[1, 0]) == (4.20, 3.99)
    marks = pd.DataFrame({"date": ["2024-09-02"], "code": ["600410"], "score": [1.0]})
    return m, marks, {"stop_loss": 0.05, "exit_on_break": False}


def test_reference_stops_out_600410_at_the_exact_threshold(real_600410):
    from backtests.reference.backtrader import run_reference

    m, marks, params = real_600410
    ref = run_reference(m, marks, params)
    assert ref.trades[["side", "price", "reason"]].values.tolist() == [
        ["buy", 4.20, "entry"], ["sell", float(m.open[2, 0]), "stop_loss"]]
    assert ref.trades["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-09-02", "2024-09-03"]


def test_engine_stops_out_600410_at_the_exact_threshold(real_600410):
    m, marks, params = real_600410
    res = crosscheck(m, marks, params)
    assert res.ok, format_report(res)

"""Corporate actions on positions: bonus shares, cash dividends and the dividend tax, in the
engine and in the backtrader reference, against hand-computed ledgers (docs/status.md)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.core import rules
from backtests.core.calendar import trading_calendar
from backtests.data import status
from backtests.data.market import build_market
from backtests.data.panel import validate_panel
from backtests.engine.backtest import run_backtest
from backtests.reference.crosscheck import compare
from backtests.reference.backtrader import run_reference

CODE = "600001"


def _days(n, start="2024-09-02"):
    cal = trading_calendar().sessions
    i = int(np.searchsorted(cal, np.datetime64(start)))
    return [str(d) for d in cal[i:i + n]]


def _market(prices, actions=None, start="2024-09-02"):
    """One main-board stock with one-price bars at ``prices`` (a price list, one per session)."""
    days = _days(len(prices), start)
    frame = pd.DataFrame({"code": CODE, "date": days, "open": prices, "high": prices,
                          "low": prices, "close": prices})
    frame["volume"] = 1e7
    frame["amount"] = frame["close"] * 1e7
    table = None
    if actions is not None:
        cols = list(status.ACTION_COLUMNS)
        rows = [tuple(a) + (0.0, 0.0, 1.0)[len(a) - 5:] for a in actions]
        table = pd.DataFrame(rows, columns=cols)
        table["ex_date"] = pd.to_datetime(table["ex_date"]).to_numpy().astype("datetime64[D]")
    return build_market(validate_panel(frame), actions=table), days


PARAMS = {"name": "hold_n", "hold": 2, "fixed_cash": 10_000.0, "cash": 100_000.0}
THEME = {"name": "theme_hype", "fixed_cash": 10_000.0, "cash": 100_000.0, "exit_on_break": False}


def _both(m, days, params=PARAMS, mark=0):
    marks = pd.DataFrame({"date": [days[mark]], "code": [CODE]})
    res = run_backtest(m, marks, params)
    ref = run_reference(m, marks, params)
    assert compare(res, ref) == []
    return res


def test_cash_bonus_and_transfer_by_hand():
    """10派1送2转3 on a 10.00 stock: reference (10.00 - 0.10) / 1.5 = 6.60. 1,000 shares bought
    at 10.00 (commission 5.00, transfer fee 0.10) become 1,500 with 100.00 cash; the taxable
    income is 0.10 + 0.20 x 1.00 par = 0.30 a share, 300.00; sold three sessions later (held
    <= 1 month: 20%) the tax is 60.00. Sale 1,500 x 6.60 = 9,900.00: commission 5.00, stamp
    4.95, transfer 0.10. Cash 100,000 - 10,005.10 + 100.00 + 9,900 - 10.05 - 60.00 =
    99,924.85; equity is continuous over the ex-date (99,994.90 both sides)."""
    m, days = _market([10.0, 6.6, 6.6, 6.6, 6.6], [(CODE, "2024-09-03", 0.1, 0.2, 0.3)])
    assert m.prev_close[1, 0] == 6.60
    res = _both(m, days)
    assert res.credits[["shares", "new_shares", "reference_price", "dividend"]].values.tolist() \
        == [[1500, 500, 6.60, 100.0]]
    sell = res.trades[res.trades["side"] == "sell"].iloc[0]
    assert (sell["shares"], sell["price"], sell["dividend_tax"]) == (1500, 6.60, 60.0)
    assert (sell["commission"], sell["stamp_duty"], sell["transfer_fee"]) == (5.0, 4.95, 0.10)
    eq = res.equity["equity"].round(2).tolist()
    assert eq[0] == eq[1] == 99_994.90
    assert res.equity["cash"].iloc[-1] == pytest.approx(99_924.85, abs=1e-9)
    assert (res.stats["dividends"], res.stats["dividend_tax"], res.stats["bonus_shares"]) == \
        (100.0, 60.0, 500.0)
    # the round trip counts the dividend: net 9,829.95 + 100.00 - cost 10,005.10 < 0
    assert res.stats["gross_loss"] == pytest.approx(75.15)


def test_rights_lapse_and_bonus_taxed_at_its_par():
    """10送2 at par 0.10 (taxable 0.02 a share) with 10配3 at 5.00 on a 10.00 close: reference
    (10.00 + 1.50) / 1.5 = 7.67. 1,000 shares become 1,200 (the rights lapse: not
    subscribed), equity drops by 1,000 x 10.00 - 1,200 x 7.67 = 796.00, the lapse's cost;
    the tax on 20.00 of bonus income at 20% is 4.00."""
    m, days = _market([10.0, 7.67, 7.67, 7.67, 7.67],
                      [(CODE, "2024-09-03", 0.0, 0.2, 0.0, 0.3, 5.0, 0.1)])
    assert m.prev_close[1, 0] == 7.67
    res = _both(m, days)
    assert res.credits[["shares", "new_shares", "dividend"]].values.tolist() == [[1200, 200, 0.0]]
    eq = res.equity["equity"].round(2).tolist()
    assert eq[0] - eq[1] == pytest.approx(796.0)
    assert res.trades["dividend_tax"].tolist() == [0.0, 4.0]


def test_stop_thresholds_move_with_the_reference():
    """A 5% stop on an entry at 10.00 is judged against 6.60 x 0.95 after 10派1送2转3, not
    against 9.50: the ex-date close 6.60 is no loss."""
    m, days = _market([10.0, 6.6, 6.6, 6.3, 6.3, 6.3], [(CODE, "2024-09-03", 0.1, 0.2, 0.3)])
    res = _both(m, days, {**THEME, "stop_loss": 0.05})
    sells = res.trades[res.trades["side"] == "sell"]
    # 6.30 < 6.60 x 0.95 = 6.27? no: 6.30 > 6.27, so no stop either: still held at the end
    assert sells.empty
    m2, days2 = _market([10.0, 6.6, 6.6, 6.2, 6.2, 6.2], [(CODE, "2024-09-03", 0.1, 0.2, 0.3)])
    res2 = _both(m2, days2, {**THEME, "stop_loss": 0.05})
    sells2 = res2.trades[res2.trades["side"] == "sell"]
    assert sells2[["date", "reason"]].values.tolist() == [[pd.Timestamp(days2[4]), "stop_loss"]]


def test_sold_on_the_record_date_receives_nothing():
    """Sold at the close of the record date (the session before the ex-date): no credit."""
    m, days = _market([10.0, 10.0, 9.9, 9.9], [(CODE, "2024-09-04", 0.1, 0.0, 0.0)])
    res = _both(m, days, {**PARAMS, "hold": 1, "exit_at": "close"})
    assert res.credits.empty and res.stats["dividends"] == 0.0
    assert res.trades["dividend_tax"].sum() == 0.0


def test_bought_on_the_record_date_receives_it():
    m, days = _market([10.0, 10.0, 9.9, 9.9, 9.9], [(CODE, "2024-09-04", 0.1, 0.0, 0.0)])
    res = _both(m, days, mark=1)
    assert res.credits["dividend"].tolist() == [100.0]
    assert res.trades["dividend_tax"].tolist() == [0.0, 20.0]     # 100.00 x 20%


@pytest.mark.parametrize("hold, rate", [(20, 0.20), (25, 0.10), (240, 0.10), (260, 0.0)])
def test_dividend_tax_by_holding_period(hold, rate):
    """10派5 on 1,000 shares (500.00), sold after ``hold`` sessions: the rate of the holding
    period from the buy (2024-01-02) to the day before the sale (财税〔2015〕101号)."""
    prices = [10.0] + [9.5] * (hold + 2)
    m, days = _market(prices, [(CODE, _days(2, "2024-01-02")[1], 0.5, 0.0, 0.0)],
                      start="2024-01-02")
    res = _both(m, days, {**PARAMS, "hold": hold})
    sell = res.trades[res.trades["side"] == "sell"].iloc[0]
    assert rules.dividend_tax_rate(days[0], sell["date"]) == rate
    assert sell["dividend_tax"] == pytest.approx(500.0 * rate)


def test_top_up_lots_taxed_by_their_own_holding_period():
    """Two buys (skip_held = false) a month apart, one dividend for both, sold together: each
    lot is taxed at its own period's rate (first in, first out: 财税〔2012〕85号)."""
    days = _days(60, "2024-01-02")
    prices = [10.0] * 60
    m, _ = _market(prices, [(CODE, days[30], 0.5, 0.0, 0.0)], start="2024-01-02")
    marks = pd.DataFrame({"date": [days[0], days[29]], "code": [CODE, CODE]})
    params = {**THEME, "skip_held": False, "max_hold": 32}
    res = run_backtest(m, marks, params)
    assert compare(res, run_reference(m, marks, params)) == []
    sell = res.trades[res.trades["side"] == "sell"].iloc[0]
    r1 = rules.dividend_tax_rate(days[0], sell["date"])
    r2 = rules.dividend_tax_rate(days[29], sell["date"])
    assert (r1, r2) == (0.10, 0.20)
    assert sell["dividend_tax"] == pytest.approx(500.0 * 0.10 + 500.0 * 0.20)


def test_inferred_ex_rights_credits_the_ratio():
    """Without an actions table, 10转5 revealed by the bars (13.89 -> 9.26 inferred): 1,000
    shares become 1,500 and nothing is taxed; equity moves only by the reference's rounding."""
    m, days = _market([13.89, 9.30, 9.30, 9.30])
    assert m.prev_close[1, 0] == 9.26
    res = _both(m, days, {**PARAMS, "fixed_cash": 14_000.0})
    assert res.credits[["shares", "new_shares", "dividend"]].values.tolist() == [[1500, 500, 0.0]]
    assert res.trades["dividend_tax"].sum() == 0.0


@pytest.mark.parametrize("acquired, sold, rate", [
    ("2024-01-05", "2024-02-06", 0.20),   # held to 02-05: exactly one month
    ("2024-01-05", "2024-02-07", 0.10),
    ("2024-01-31", "2024-03-01", 0.20),   # one month from 01-31 ends 02-29
    ("2024-01-31", "2024-03-02", 0.10),
    ("2024-01-05", "2025-01-06", 0.10),   # held to 2025-01-05: exactly one year
    ("2024-01-05", "2025-01-07", 0.0),
    ("2013-03-01", "2014-06-02", 0.05),   # 85号: > 1 year 5% before 2015-09-08
    ("2012-03-01", "2012-03-05", 0.10),   # before 2013: a flat 10%
])
def test_dividend_tax_rate_rows(acquired, sold, rate):
    assert rules.dividend_tax_rate(acquired, sold) == rate


def test_dividend_tax_arrays_agree_with_the_scalar_rule():
    sessions = trading_calendar().sessions
    s = sessions[(sessions >= np.datetime64("2014-01-01")) & (sessions < np.datetime64("2017-01-01"))]
    month_end, year_end, rates = rules.dividend_tax_arrays(s)
    for a in range(0, len(s), 37):
        for t in range(a, len(s), 23):
            want = rules.dividend_tax_rate(s[a], s[t])
            got = (rates[t, 0] if t <= month_end[a] else
                   rates[t, 1] if t <= year_end[a] else rates[t, 2])
            assert got == want, (s[a], s[t])


def test_entitlement_rows_from_the_table_and_from_the_reference():
    raw = np.array([[np.nan, np.nan], [10.0, 13.89], [9.0, 9.26]])
    ref = np.array([[np.nan, np.nan], [9.5, 13.89], [9.0, 9.26]])
    ref[2, 1] = 9.26
    raw[2, 1] = 13.89
    bars = np.ones((3, 2), bool)
    t, j = np.array([1]), np.array([0])
    vals = {"cash": np.array([0.5]), "bonus": np.array([0.0]), "transfer": np.array([0.0]),
            "rights": np.array([0.0]), "rights_price": np.array([0.0]), "par": np.array([1.0])}
    rows = status.entitlements((t, j, vals), raw, ref, bars)
    assert rows.tolist() == [[1, 0, 0.5, 0.0, 0.5, 0.95], [2, 1, 0.0, 0.5, 0.0, 9.26 / 13.89]]


def test_run_folder_ledger_reproduces_the_cash(tmp_path):
    """trades.csv (with dividend_tax) and credits.csv rebuild the final cash to the cent, and
    metrics.json reports the corporate actions; round trips count the bonus shares."""
    from backtests.report.analyses import with_credits
    from backtests.report.metrics import compute_metrics, round_trips
    from backtests.report.run_folder import credits_csv, trades_csv

    m, days = _market([10.0, 6.6, 6.6, 6.6, 6.6], [(CODE, "2024-09-03", 0.1, 0.2, 0.3)])
    res = _both(m, days)
    (tmp_path / "trades.csv").write_text(trades_csv(res.trades), encoding="utf-8")
    (tmp_path / "credits.csv").write_text(credits_csv(res.credits), encoding="utf-8")
    tr = pd.read_csv(tmp_path / "trades.csv")
    cr = pd.read_csv(tmp_path / "credits.csv", dtype={"code": str})
    sign = np.where(tr["side"] == "buy", -1.0, 1.0)
    cash = (100_000 + (sign * tr["value"]).sum() - tr[["commission", "stamp_duty",
            "transfer_fee", "dividend_tax"]].to_numpy().sum() + cr["dividend"].sum())
    assert cash == pytest.approx(res.equity["cash"].iloc[-1], abs=1e-6)
    assert cr.values.tolist() == [["2024-09-03", CODE, 1500, 500, 6.6, 100.0]]
    rt = round_trips(with_credits(res.trades, res.credits), m.sessions)
    assert rt["shares"].sum() == 1500
    assert rt["pnl"].sum() == pytest.approx(-75.15)
    ca = compute_metrics(res)["corporate_actions"]
    assert ca == {"credits": 1, "bonus_shares": 500, "dividends": 100.0, "dividend_tax": 60.0}


# ---------------------------------------------------------------- the real panel
@pytest.fixture(scope="module")
def real(shared_data):
    import warnings

    from backtests.core.errors import DataWarning
    from backtests.data.load import load_market
    from tests.conftest import REAL_NAMES, REAL_PANEL

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return load_market(REAL_PANEL, names=[REAL_NAMES])


def test_real_positions_over_ex_rights_days_agree_with_the_reference(real):
    """Every ex-rights day the shared panel reveals (70 of them, 送转 inferred from the bars),
    entered two sessions before and held four: the engine and backtrader agree on every
    credit, trade, order and session's equity."""
    m = real
    e = m.entitlements
    assert len(e) == 70 and (e[:, status.ENT_CASH] == 0).all()
    t, j = e[:, status.ENT_SESSION].astype(int), e[:, status.ENT_STOCK].astype(int)
    keep = t >= 2
    marks = pd.DataFrame({"date": [str(m.sessions[a - 2]) for a in t[keep]],
                          "code": m.codes[j[keep]]}).drop_duplicates()
    params = {"name": "hold_n", "hold": 4, "fixed_cash": 20_000.0, "cash": 1e7,
              "max_positions": 1000}
    res = run_backtest(m, marks, params)
    assert compare(res, run_reference(m, marks, params)) == []
    assert len(res.credits) > 50
    # new shares are whole 送转 ratios of the holding: 700 shares of 603220 at 10转3.5 -> 945
    first = res.credits.iloc[0]
    assert (first["code"], first["shares"], first["new_shares"]) == ("603220", 945, 245)


def test_real_300532_held_over_its_ex_date_keeps_its_value(real):
    """今天国际 300532, 10转5 on 2024-09-19 (13.89 -> reference 9.26): 1,400 shares held over
    the ex-date become 2,100 and the equity moves by the day's trading only, not by -33%."""
    m = real
    marks = pd.DataFrame({"date": ["2024-09-13"], "code": ["300532"]})
    params = {"name": "hold_n", "hold": 5, "fixed_cash": 20_000.0}
    res = run_backtest(m, marks, params)
    assert compare(res, run_reference(m, marks, params)) == []
    assert res.credits[["date", "code", "new_shares"]].astype(str).values.tolist() == [
        ["2024-09-19", "300532", str(res.credits["shares"].iloc[0] // 3)]]
    eq = res.equity.set_index("date")["equity"]
    t = int(np.searchsorted(m.sessions, np.datetime64("2024-09-19")))
    jj = int(np.searchsorted(m.codes, "300532"))
    held = int(res.credits["shares"].iloc[0])
    day_move = held * (m.close[t, jj] - m.prev_close[t, jj])
    assert eq.iloc[t] - eq.iloc[t - 1] == pytest.approx(day_move + held * (9.26 - 13.89 / 1.5),
                                                        abs=0.01)


# ---------------------------------------------------------------- akshare 分红送配 and the store
def _sina_dividends(rows):
    """A frame as akshare's ``stock_history_dividend_detail(indicator="分红")`` returns it."""
    return pd.DataFrame(rows, columns=["公告日期", "送股", "转增", "派息", "进度", "除权除息日",
                                       "股权登记日", "红股上市日"])


def _sina_rights(rows):
    return pd.DataFrame(rows, columns=["公告日期", "配股方案", "配股价格", "基准股本", "除权日",
                                       "股权登记日", "缴款起始日", "缴款终止日", "配股上市日",
                                       "募集资金合计"])


class FakeSina:
    def __init__(self, tables):
        self.tables = tables
        self.calls = []

    def stock_history_dividend_detail(self, symbol, indicator):
        self.calls.append((symbol, indicator))
        if symbol not in self.tables:
            raise ConnectionError("boom")
        return self.tables[symbol].get(indicator, pd.DataFrame())


def test_actions_from_akshare_per_share_and_only_implemented_plans():
    from backtests.data.akshare import actions_from_akshare

    div = _sina_dividends([
        ("2024-09-10", 0.0, 5.0, 1.2, "实施", "2024-09-19", "2024-09-18", "2024-09-19"),
        ("2025-04-20", 0.0, 0.0, 3.0, "预案", None, None, None),        # a plan: not yet
        ("2023-06-01", 2.0, 0.0, 0.5, "实施", "2023-06-09", "2023-06-08", "2023-06-09")])
    rights = _sina_rights([("2022-01-01", 3.0, 5.5, 1e8, "2022-02-10", "2022-02-09",
                            "2022-02-10", "2022-02-16", "2022-02-25", 1e9)])
    out = actions_from_akshare(div, rights, "300532")
    assert out.values.tolist() == [
        ["300532", "2022-02-10", 0.0, 0.0, 0.0, 0.3, 5.5, 1.0],
        ["300532", "2023-06-09", 0.05, 0.2, 0.0, 0.0, 0.0, 1.0],
        ["300532", "2024-09-19", 0.12, 0.0, 0.5, 0.0, 0.0, 1.0]]
    assert actions_from_akshare(pd.DataFrame(), pd.DataFrame(), "600000").empty
    with pytest.raises(Exception, match="派息"):
        actions_from_akshare(div.drop(columns="派息"), None, "300532")


def test_fetched_actions_are_stored_and_applied_when_the_store_loads(tmp_path):
    from backtests.core.errors import DataError
    from backtests.data import store as S
    from backtests.data.akshare import AkshareSource, CallPolicy
    from backtests.data.load import load_market

    days = _days(4)
    st = S.Store.open(tmp_path / "s", create=True)
    frame = pd.DataFrame({"code": CODE, "date": days, "open": [10.0, 9.5, 9.5, 9.5],
                          "high": [10.0, 9.5, 9.5, 9.5], "low": [10.0, 9.5, 9.5, 9.5],
                          "close": [10.0, 9.5, 9.5, 9.5], "volume": 1e6, "amount": 1e7})
    st.merge_bars(CODE, validate_panel(frame), [[days[0], days[-1]]])
    fake = FakeSina({CODE: {"分红": _sina_dividends([
        ("2024-08-30", 0.0, 0.0, 5.0, "实施", days[1], days[0], days[1])])}})
    stored, failed = S.fetch_actions(st, [CODE, "600002"], source=AkshareSource(api=fake),
                                     policy=CallPolicy(attempts=1, interval=0, backoff=0))
    assert (stored, [c for c, _ in failed]) == (1, ["600002"])
    assert st.actions_path.read_text(encoding="utf-8").splitlines() == [
        "code,ex_date,cash,bonus,transfer,rights,rights_price,par",
        f"{CODE},{days[1]},0.5,0,0,0,0,1"]
    m = load_market(st.root, cache=False)
    assert m.prev_close[1, 0] == 9.5 and m.entitlements[:, status.ENT_CASH].tolist() == [0.5]
    res = run_backtest(m, pd.DataFrame({"date": [days[0]], "code": [CODE]}), PARAMS)
    assert res.credits["dividend"].tolist() == [500.0]
    st.actions_path.write_text("code,ex_date,cash\n600001,2024-09-03,abc\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"actions.csv line 2: cash 'abc'"):
        load_market(st.root, cache=False)


def test_per_stock_pnl_counts_bonus_shares_dividends_and_tax():
    from backtests.report.analyses import with_credits
    from backtests.report.tearsheet import per_stock_pnl

    m, days = _market([10.0, 6.6, 6.6, 6.6, 6.6], [(CODE, "2024-09-03", 0.1, 0.2, 0.3)])
    res = _both(m, days)
    row = per_stock_pnl(with_credits(res.trades, res.credits)).iloc[0]
    assert (row["open_shares"], round(row["realized"], 2)) == (0, -75.15)

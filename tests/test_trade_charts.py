"""Each trade, drawn: round trips from fills, the bars kept around them, the tearsheet section."""
from __future__ import annotations

import numpy as np
import pandas as pd

from backtests.engine.backtest import toy_market
from backtests.report.trade_charts import round_trips, section_html, trade_bars_csv

TRADES = pd.DataFrame({
    "date": ["2024-12-03", "2024-12-04", "2024-12-05", "2024-12-05", "2024-12-10"],
    "code": ["000001", "000001", "000001", "300001", "300001"],
    "side": ["buy", "buy", "sell", "buy", "sell"],
    "shares": [100, 100, 200, 300, 100],
    "price": [10.0, 10.5, 11.0, 20.0, 21.0],
})


def test_round_trips_by_hand():
    trips = round_trips(TRADES)
    assert trips.drop(columns="exit_price").to_dict("records") == [
        {"code": "000001", "entry_date": "2024-12-03", "entry_price": 10.0,
         "exit_date": "2024-12-05"},
        {"code": "300001", "entry_date": "2024-12-05", "entry_price": 20.0,
         "exit_date": ""},                                  # 200 shares still held
    ]
    assert trips["exit_price"].iloc[0] == 11.0 and np.isnan(trips["exit_price"].iloc[1])


def test_trade_bars_and_section(tmp_path):
    sessions = np.array(pd.bdate_range("2024-11-25", periods=15).values, dtype="datetime64[D]")
    c = np.full((15, 2), 10.0)
    m = toy_market(sessions, ["000001", "300001"], c, c, c, c, prev_close=10.0)
    text = trade_bars_csv(m, TRADES.iloc[:3])
    rows = text.splitlines()
    assert rows[0] == "code,date,open,high,low,close,limit_up,limit_down"
    # 5 sessions before 2024-12-03 (index 6) to 5 after 2024-12-05 (index 8): indices 1..13
    assert [r.split(",")[1] for r in rows[1:]] == [str(d) for d in sessions[1:14]]
    assert rows[1] == "000001,2024-11-26,10.00,10.00,10.00,10.00,11.00,9.00"
    (tmp_path / "trade_bars.csv").write_text(text)
    orders = pd.DataFrame({"date": ["2024-12-02"], "code": ["000001"], "side": ["buy"],
                           "price": [11.0], "status": ["rejected"],
                           "reject_reason": ["limit_up_sealed"]})
    signals = pd.DataFrame({"date": ["2024-12-02"], "code": ["000001"],
                            "title": ["<b>豆包</b>"]})
    page = section_html(tmp_path, TRADES.iloc[:3], orders, signals, {"000001": "平安银行"})
    assert 'id="trip-0"' in page and "平安银行" in page
    assert "&lt;b&gt;豆包&lt;/b&gt;" in page                      # the article, escaped
    assert "limit_up_sealed" in page and "×" in page              # the rejected attempt
    assert "▲" in page and "▼" in page


def _round_trips_by_hand(trades):
    """The plain-Python walk round_trips implements: per stock in date order, a buy when flat
    opens a trip, the sell that brings the position to zero or below closes it."""
    rows = []
    t = trades.assign(side=trades["side"].astype(str).str.lower(),
                      date=pd.to_datetime(trades["date"]).dt.strftime("%Y-%m-%d"))
    for code, g in t.sort_values("date", kind="stable").groupby("code", sort=True):
        pos, cur = 0.0, None
        for side, n, price, day in zip(g["side"], g["shares"].astype(float),
                                       g["price"].astype(float), g["date"]):
            if side == "buy":
                if pos <= 0:
                    cur = [str(code), day, price, "", float("nan")]
                pos += n
            elif cur is not None:
                pos -= n
                if pos <= 0:
                    cur[3], cur[4] = day, price
                    rows.append(cur)
                    cur = None
        if cur is not None:
            rows.append(cur)
    out = pd.DataFrame(rows, columns=["code", "entry_date", "entry_price", "exit_date",
                                      "exit_price"])
    return out.sort_values(["entry_date", "code"], kind="stable").reset_index(drop=True)


def test_round_trips_equal_the_plain_walk_on_random_ledgers():
    rng = np.random.default_rng(0)
    days = pd.bdate_range("2024-01-01", periods=15)
    for _ in range(200):
        n = int(rng.integers(1, 40))
        trades = pd.DataFrame({
            "date": rng.choice(days, n), "code": rng.choice(["600001", "000002", "300003"], n),
            "side": rng.choice(["buy", "sell", "Buy"], n),
            "shares": rng.integers(1, 5, n) * 100, "price": np.round(rng.uniform(5, 20, n), 2)})
        pd.testing.assert_frame_equal(round_trips(trades), _round_trips_by_hand(trades),
                                      check_dtype=False)

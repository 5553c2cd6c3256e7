"""The baostock adapter on constructed frames with baostock's real columns (all text, as
``ResultData.get_data()`` returns them): no network."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.cli import data as cli_data
from backtests.cli.main import main
from backtests.core.errors import DataError
from backtests.data import baostock as B
from backtests.data import status
from backtests.data import store as S
from backtests.data.load import load_market

FIELDS = B.FIELDS.split(",")


def k_frame(code, rows):
    """rows: (date, open, high, low, close, preclose, volume, amount, tradestatus, isST)."""
    return pd.DataFrame([[d, code, *map(str, rest)] for d, *rest in rows],
                        columns=FIELDS)[FIELDS].astype(str)


class Result:
    def __init__(self, frame=None, error_code="0", error_msg="success"):
        self.error_code, self.error_msg, self._frame = error_code, error_msg, frame

    def get_data(self):
        return self._frame


class FakeBaostock:
    def __init__(self, frames):
        self.frames, self.calls = frames, []

    def login(self):
        self.calls.append(("login",))
        return Result()

    def logout(self):
        return Result()

    def query_history_k_data_plus(self, code, fields, start_date, end_date, frequency, adjustflag):
        self.calls.append((code, fields, start_date, end_date, frequency, adjustflag))
        frame = self.frames.get(code)
        if frame is None:
            return Result(error_code="10004011", error_msg="invalid code")
        return Result(frame[(frame["date"] >= start_date) & (frame["date"] <= end_date)])


# 万方发展 000638 around its 5% one-price limit-ups, with an invented halt on 2025-05-12
WANFANG = k_frame("sz.000638", [
    ("2025-05-09", 3.26, 3.40, 3.22, 3.30, 3.25, 22620600, 74396622, 1, 1),
    ("2025-05-12", 3.30, 3.30, 3.30, 3.30, 3.30, 0, 0, 0, 1),            # suspended
    ("2025-05-13", 3.44, 3.56, 3.40, 3.56, 3.30, 25374700, 89316663, 1, 1),
    ("2025-05-14", 3.74, 3.74, 3.74, 3.74, 3.56, 6559900, 24533869, 1, 1),
])


def test_bars_convert_real_columns_drop_suspended_rows():
    out = B.bars_from_baostock(WANFANG, "000638")
    assert list(out.columns) == list(B.BAR_FIELDS) + ["prev_close", "is_st"]
    assert out["date"].dt.strftime("%Y-%m-%d").tolist() == ["2025-05-09", "2025-05-13", "2025-05-14"]
    assert out["prev_close"].tolist() == [3.25, 3.30, 3.56]
    assert out["is_st"].tolist() == [True, True, True]
    assert out["volume"].tolist() == [22620600.0, 25374700.0, 6559900.0]   # shares already


def test_codes_and_errors():
    assert [B.baostock_code(c) for c in ("600182", "688339", "000638", "300532", "830799")] == [
        "sh.600182", "sh.688339", "sz.000638", "sz.300532", "bj.830799"]
    with pytest.raises(DataError, match=r"missing \['preclose'"):
        B.bars_from_baostock(WANFANG.drop(columns="preclose"), "000638")
    with pytest.raises(DataError, match=r"rows of 'sz.000638' for 000639"):
        B.bars_from_baostock(WANFANG, "000639")
    src = B.BaostockSource(api=FakeBaostock({}))
    with pytest.raises(DataError, match="baostock query_history_k_data_plus for 000638: invalid code"):
        src.daily_bars("000638", "2025-05-09", "2025-05-14")


def test_daily_bars_asks_unadjusted_with_the_status_fields():
    fake = FakeBaostock({"sz.000638": WANFANG})
    out = B.BaostockSource(api=fake).daily_bars("000638", "20250509", "2025-05-13")
    assert fake.calls == [("login",), ("sz.000638", B.FIELDS, "2025-05-09", "2025-05-13", "d", "3")]
    assert len(out) == 2


def test_fetch_source_baostock_stores_reference_and_st(monkeypatch, tmp_path, capsys):
    """Fetched with --source baostock, the store keeps preclose and isST beside the bars, and a
    market loaded from it takes ST from the data (nothing inferred): the 5% one-price bar is a
    sealed limit-up."""
    fake = FakeBaostock({"sz.000638": WANFANG})
    monkeypatch.setattr(cli_data, "BaostockSource", lambda: B.BaostockSource(api=fake))
    monkeypatch.setattr(S, "last_final_session", lambda now=None: np.datetime64("2025-05-14"))
    store = tmp_path / "store"
    assert main(["data", "fetch", "--codes", "000638", "--start", "2025-05-09", "--end",
                 "2025-05-14", "--source", "baostock", "--store", str(store), "--interval", "0",
                 "--quiet"]) == 0
    assert "bars: 1 fetched (3 rows)" in capsys.readouterr().out
    frame = S.read_store(store)
    assert frame["prev_close"].tolist() == [3.25, 3.30, 3.56]
    assert frame["is_st"].tolist() == [True, True, True]
    m = load_market(store)
    t = int(np.searchsorted(m.sessions, np.datetime64("2025-05-14")))
    assert (m.limit_ratio[t, 0], m.limit_up[t, 0], m.low[t, 0]) == (0.05, 3.74, 3.74)
    assert m.status[t, 0] & status.ST and not m.status[t, 0] & status.INFERRED_ST


# ---------------------------------------------------------------- delisted stocks (akshare)
SH_DELIST = pd.DataFrame({"公司代码": ["600087", "600225", "900955"],
                          "公司简称": ["退市长油", "退市天马", "退市B股"],
                          "上市日期": ["1997-06-12", "2003-02-14", "1997-01-01"],
                          "暂停上市日期": ["2014-06-05", "2024-12-20", "2024-10-01"]})
SZ_DELIST = pd.DataFrame({"证券代码": [2260, 300630], "证券简称": ["德奥退", "普利退"],
                          "上市日期": ["2010-01-01", "2017-03-28"],
                          "终止上市日期": ["2021-07-01", "2025-05-20"]})


def test_delisted_codes_in_range_from_the_exchanges_lists():
    from backtests.data.akshare import delisted_from_akshare

    # delisted on/after the start: traded inside the range; 2014/2021 are long gone; 900955 is a
    # B share
    assert delisted_from_akshare(SH_DELIST, SZ_DELIST, "2024-07-19", "2025-05-23") == [
        "300630", "600225"]
    assert delisted_from_akshare(SH_DELIST, SZ_DELIST, "2025-01-01", "2025-05-23") == ["300630"]


def test_fetch_delisted_adds_them(monkeypatch, tmp_path, capsys):
    from test_akshare_adapter import FakeAkshare, hist_frame

    from backtests.data.akshare import AkshareSource, use_source

    class Fake(FakeAkshare):
        def stock_info_sh_delist(self, symbol):
            self.calls.append(("stock_info_sh_delist", {"symbol": symbol}))
            return SH_DELIST

        def stock_info_sz_delist(self, symbol):
            self.calls.append(("stock_info_sz_delist", {"symbol": symbol}))
            return SZ_DELIST

    days = ["2025-05-06", "2025-05-07"]
    fake = Fake(bars={"300630": hist_frame("300630", days, base=0.7),
                      "600225": hist_frame("600225", days, base=1.0)})
    monkeypatch.setattr(S, "last_final_session", lambda now=None: np.datetime64("2025-05-23"))
    with use_source(AkshareSource(api=fake)):
        assert main(["data", "fetch", "--delisted", "--start", "2025-05-06", "--end",
                     "2025-05-07", "--store", str(tmp_path / "st"), "--interval", "0",
                     "--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "delisted in range: 1 stocks"
    assert out[1].startswith("bars: 1 fetched (2 rows)")
    assert ("stock_info_sz_delist", {"symbol": "终止上市公司"}) in fake.calls

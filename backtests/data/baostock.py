"""The one place hypebt talks to baostock: raw daily bars with the exchange's reference
previous close and ST flag (``hypebt data fetch --source baostock``).

``daily_bars(code, start, end)`` calls ``query_history_k_data_plus(code, fields, start_date,
end_date, frequency="d", adjustflag="3")`` (``adjustflag="3"``: unadjusted) with the fields
``date,code,open,high,low,close,preclose,volume,amount,tradestatus,isST`` and returns hypebt's
bars plus ``prev_close`` (``preclose``: the exchange's 前收盘, ex-rights adjusted on an ex-date)
and ``is_st`` (``isST``). baostock's ``volume`` is in shares already; ``tradestatus`` 0 marks a
suspended session, which baostock fills with a flat zero-volume row: such rows are left out (no
row = suspended, as the data contract says). Codes are ``sh.600000`` / ``sz.000001``.

baostock needs a session: :meth:`BaostockSource.daily_bars` logs in on first use; the process
logs out at exit. Tests never touch the network: ``BaostockSource(api=fake)`` where ``fake`` has
baostock's ``login`` and ``query_history_k_data_plus`` and returns a result object with
``error_code``, ``error_msg`` and ``get_data()`` giving a frame of baostock's real columns (all
text, as baostock returns them).
"""
from __future__ import annotations

import atexit

import numpy as np
import pandas as pd

from backtests.core.calendar import to_date
from backtests.core.errors import DataError
from backtests.data.akshare import BAR_FIELDS

FIELDS = "date,code,open,high,low,close,preclose,volume,amount,tradestatus,isST"


def baostock_code(code: str) -> str:
    """``600000`` -> ``sh.600000``; ``000001``/``300750`` -> ``sz.…``; BSE codes -> ``bj.…``."""
    if code.startswith(("60", "68", "90")):
        return f"sh.{code}"
    if code.startswith(("00", "30", "20")):
        return f"sz.{code}"
    return f"bj.{code}"


def bars_from_baostock(frame: pd.DataFrame, code: str) -> pd.DataFrame:
    """``query_history_k_data_plus`` output (text cells) -> hypebt bars with ``prev_close`` and
    ``is_st``; suspended sessions (``tradestatus`` 0) are dropped."""
    cols = list(BAR_FIELDS) + ["prev_close", "is_st"]
    if frame is None or len(frame) == 0:
        out = pd.DataFrame({c: pd.Series([], dtype="float64") for c in cols})
        out["code"] = out["code"].astype(str)
        out["date"] = out["date"].astype("datetime64[ns]")
        out["is_st"] = pd.array([], dtype="boolean")
        return out
    missing = [c for c in FIELDS.split(",") if c not in frame.columns]
    if missing:
        raise DataError(f"baostock query_history_k_data_plus returned columns "
                        f"{list(frame.columns)}; missing {missing}")
    want = baostock_code(code)
    wrong = frame["code"].astype(str) != want
    if wrong.any():
        raise DataError(f"baostock returned rows of {frame['code'][wrong].iloc[0]!r} for {code}; "
                        f"expected only {want}")
    frame = frame[frame["tradestatus"].astype(str).str.strip() != "0"]
    num = {c: pd.to_numeric(frame[c].replace("", np.nan), errors="coerce").to_numpy("float64")
           for c in ("open", "high", "low", "close", "preclose", "volume", "amount")}
    out = pd.DataFrame({
        "code": pd.Series([code] * len(frame), dtype=str),
        "date": pd.to_datetime(frame["date"].astype(str), errors="coerce").to_numpy()
        .astype("datetime64[ns]"),
        **{c: num[c] for c in ("open", "high", "low", "close", "volume", "amount")},
        "prev_close": np.where(num["preclose"] > 0, num["preclose"], np.nan),
        "is_st": pd.array(frame["isST"].astype(str).str.strip().map({"1": True, "0": False})
                          .to_numpy(object), dtype="boolean"),
    })
    if out["date"].isna().any():
        raise DataError(f"baostock bars for {code}: a date is not a date")
    return out.reset_index(drop=True)


class BaostockSource:
    """Daily bars from baostock. ``api``: the ``baostock`` module (imported on first use) or an
    object with its function names."""

    def __init__(self, api=None):
        self._api = api
        self._logged_in = False

    @property
    def api(self):
        if self._api is None:
            try:
                import baostock  # optional dependency (pip install -e ".[baostock]"); network
            except ImportError as exc:
                raise DataError("--source baostock needs the baostock package: "
                                f'pip install -e ".[baostock]" ({exc})') from None
            self._api = baostock
        return self._api

    def _login(self) -> None:
        if self._logged_in:
            return
        res = self.api.login()
        if str(getattr(res, "error_code", "0")) != "0":
            raise DataError(f"baostock login failed: {getattr(res, 'error_msg', res)}")
        self._logged_in = True
        if hasattr(self.api, "logout"):
            atexit.register(self.api.logout)

    def daily_bars(self, code: str, start, end) -> pd.DataFrame:
        """Raw daily bars of one stock for ``start..end`` with ``prev_close`` and ``is_st``."""
        self._login()
        rs = self.api.query_history_k_data_plus(
            baostock_code(code), FIELDS, start_date=str(to_date(start, what="start")),
            end_date=str(to_date(end, what="end")), frequency="d", adjustflag="3")
        if str(rs.error_code) != "0":
            raise DataError(f"baostock query_history_k_data_plus for {code}: {rs.error_msg}")
        return bars_from_baostock(rs.get_data(), code)

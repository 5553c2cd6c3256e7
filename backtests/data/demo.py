"""SYNTHETIC demo market: 300 invented stocks on the real SSE/SZSE trading days of 2024.

Nothing in this module is real market data. Every name starts with ``演示`` ("demo"; ST names
read ``ST演示…`` / ``*ST演示…``), every theme is invented, and the prices come from a seeded
random generator. The codes are ordinary 6-digit codes chosen only so that the board rules
apply (600/601/603/605 and 000/001/002/003 main board, 300/301 ChiNext, 688 STAR, 83/87/920
BSE); a demo code says nothing about the real company that may carry it.

What the generator guarantees (``tests/test_demo.py`` checks each):

* sessions are the real trading days of 2024 from :func:`backtests.core.calendar.trading_calendar`;
* prices are raw CNY on the 0.01 grid and respect the exchange's limits exactly: every bar lies
  inside ``[limit_down, limit_up]`` computed by :func:`backtests.core.rules.limit_prices` from the
  previous *traded* close (carried over suspensions) with the board/ST ratio of
  :data:`backtests.core.rules.LIMIT_RATIO`; limit closes are clipped to the limit price to the cent;
* ``low <= min(open, close)``, ``max(open, close) <= high``; ``volume`` in shares (multiples of
  100), ``amount`` in CNY;
* five theme events (:data:`DEMO_THEMES`), each a group of stocks whose script produces
  limit-up streaks (连板) with gaps ("N天M板"), 一字板 sessions (open = high = low = close =
  limit-up), broken boards (high at the limit, close below), a suspension inside a streak and
  a fade with sealed limit-downs (一字跌停);
* ST stocks (5% limits on the main board in 2024), one of them with a 5%-limit streak and one
  with a run of sealed limit-downs; a few stocks suspended for several sessions (missing rows);
* three new listings inside the year (main board, ChiNext, STAR) with no price limit in their
  first five sessions (``rules.NO_LIMIT_AFTER_LISTING``); their rows start on the listing day;
* two market-wide days (a sell-off on 2024-02-05, a rally on 2024-09-30).

The output is byte-identical on every run and machine: the only randomness is
``numpy.random.Generator(PCG64(seed)).random()`` (raw uniform doubles, stable across numpy
versions and platforms), and prices are built from those with IEEE arithmetic only (no
``exp``/``log``), in integer cents.

``demo_panel()`` takes about 0.1 s; both frames are cached, copies are returned.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from backtests.core import rules
from backtests.core.calendar import trading_calendar
from backtests.core.names import name_is_st

SEED = 20240101
YEAR_START, YEAR_END = "2024-01-02", "2024-12-31"

# ---------------------------------------------------------------- themes (stable contract)
# Each theme: an invented concept, the session of its first limit-up ("event date"; an article
# about it would appear before that session's open or after the previous close), the stocks of
# the group (leader first) and the script of each member, one character per session from the
# event date on. Script letters:
#   U limit-up close (opened below the limit)      Y 一字板: open = high = low = close = limit-up
#   B broken board: touched the limit-up, closed below   + strong up day, not at the limit
#   D limit-down close (traded above it earlier)   X 一字跌停: open = high = low = close = limit-down
#   - strong down day, not at the limit            S suspended (no row)       . ordinary day
# The codes and dates below are a contract: signals tests and demo articles rely on them.
_THEME_SCRIPTS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "灵犀大模型": ("2024-02-26", (
        ("002931", "UYYU.UUB.UXD--"),   # leader: 4连板, then 6天5板, 7天6板, 10天7板, fade
        ("600873", "UUB+U.D"),
        ("002417", "UB.-"),
        ("603381", "BUU-"),
        ("300962", "U+B"),             # ChiNext 20%
        ("301191", ".B"),              # ChiNext: touched 20% intraday only
        ("688412", "UU-"),             # STAR 20%
        ("002088", "UUUU"),            # ST: four 5% limit-up closes
    )),
    "青鸾低空飞行": ("2024-04-15", (
        ("600532", "YYYUUB.U-X"),      # leader: three 一字板 then 5连板, 8天6板
        ("000926", "UUSSSYU.D"),       # suspended inside the streak, resumes with a 一字板
        ("002664", "U.U"),
        ("300745", "BU"),
        ("688235", "U-"),
        ("920118", "U."),              # BSE 30%
    )),
    "玄甲固态电池": ("2024-06-17", (
        ("603629", "UUUBUU.XX"),       # leader: 3连板, broken, 2 more; two 一字跌停
        ("002786", "U..U"),
        ("300581", "UUB"),
        ("301356", "B"),
        ("688179", "UB"),
        ("000821", "UBU"),
    )),
    "星梭人形机器人": ("2024-09-02", (
        ("002572", "UUYUU..UU-D"),     # leader: 5连板, then 10天7板 after a 2-day gap
        ("601117", "UB.U"),
        ("300833", "UU"),
        ("688566", "B.U"),
        ("002353", "U"),
        ("836263", "B"),               # BSE: touched 30% intraday
    )),
    "镜湖AI眼镜": ("2024-11-18", (
        ("000711", "UUUU.UU.UB--X"),   # leader: 4连板, 7天6板, 9天7板
        ("600686", "UUB"),
        ("002889", "U.UU"),
        ("300716", "U+"),
        ("301305", "UUB"),
        ("688696", "BB"),
    )),
}

DEMO_THEMES: dict[str, dict] = {
    theme: {"codes": tuple(code for code, _ in members), "leader": members[0][0],
            "event_dates": (date,)}
    for theme, (date, members) in _THEME_SCRIPTS.items()
}
"""Theme -> ``{"codes": (leader, ...), "leader": code, "event_dates": ("YYYY-MM-DD",)}``.
SYNTHETIC concepts; stable once published (other modules' tests rely on them)."""

# Other scripted stocks: (code, start date, script).
_OTHER_SCRIPTS: tuple[tuple[str, str, str], ...] = (
    ("600654", "2024-03-11", "XXXXD"),     # *ST: five 5% sealed limit-downs in a row
    ("000673", "2024-07-22", "UU.D"),      # ST
    ("600122", "2024-05-06", "SSSSSSSS"),  # plain suspensions
    ("002070", "2024-08-12", "SSSSSSSSSSSSSSS"),
    ("300071", "2024-10-14", "SSSS"),
    ("688086", "2024-12-02", "DX"),
)

# (code, name) of ST stocks; everything else gets a plain synthetic name.
_ST_NAMES: dict[str, str] = {
    "002088": "ST演示鸿博", "600654": "*ST演示中安", "000673": "ST演示当代", "600122": "ST演示宏图",
    "002070": "*ST演示众和", "603030": "ST演示全筑",
}

# New listings inside 2024: code -> (listing session, issue price in cents).
_NEW_LISTINGS: dict[str, tuple[str, int]] = {
    "001389": ("2024-03-18", 2350),
    "301589": ("2024-06-21", 1988),
    "688721": ("2024-09-20", 3516),
}

# Market-wide moves (added to every stock's return that day).
_MARKET_DAYS: dict[str, float] = {"2024-02-05": -0.065, "2024-09-30": 0.075}

# How many stocks per code prefix (300 in all).
_PREFIX_COUNTS: tuple[tuple[str, int], ...] = (
    ("600", 40), ("601", 20), ("603", 25), ("605", 5),
    ("000", 40), ("001", 10), ("002", 35), ("003", 5),
    ("300", 35), ("301", 20), ("688", 45),
    ("83", 6), ("87", 6), ("920", 8),
)

_NAME_HEAD = "华瑞鼎恒泰安宏信盛德嘉隆祥凯诚远博辰舜启"
_NAME_MID = "新创源丰达通锐科光海联宇晟邦合"
_NAME_TAIL = ("科技", "智能", "电子", "股份", "医药", "材料", "控股", "信息", "能源", "精工")


def _codes() -> list[str]:
    """Deterministic code list: the scripted codes plus arithmetic fill-ups per prefix."""
    fixed = ({c for _, m in _THEME_SCRIPTS.values() for c, _s in m}
             | {c for c, _d, _s in _OTHER_SCRIPTS} | set(_ST_NAMES) | set(_NEW_LISTINGS))
    codes: list[str] = []
    for prefix, count in _PREFIX_COUNTS:
        mine = sorted(c for c in fixed if c.startswith(prefix)
                      and not any(c.startswith(p) and len(p) > len(prefix) for p, _n in _PREFIX_COUNTS))
        width = 6 - len(prefix)
        k = 0
        while len(mine) < count:
            k += 1
            code = prefix + str((k * 7919 + 13) % 10 ** width).zfill(width)
            if code not in mine and code not in fixed:
                mine.append(code)
        codes.extend(mine)
    codes = sorted(set(codes))
    missing = fixed - set(codes)
    assert not missing and len(codes) == 300, (missing, len(codes))
    return codes


def _names(codes: list[str]) -> list[str]:
    out = []
    for i, code in enumerate(codes):
        base = (_NAME_HEAD[i // len(_NAME_MID) % len(_NAME_HEAD)] + _NAME_MID[i % len(_NAME_MID)]
                + _NAME_TAIL[(i * 3) % len(_NAME_TAIL)])
        out.append(_ST_NAMES.get(code, "演示" + base))
    return out


def _z(u: np.ndarray) -> np.ndarray:
    """Approximately standard normal from three uniforms (Irwin-Hall; bounded at ±3)."""
    return (u[..., 0] + u[..., 1] + u[..., 2] - 1.5) * 2.0


def _cents(x) -> np.ndarray:
    return np.rint(np.asarray(x, dtype=np.float64) * 100.0)


@lru_cache(maxsize=1)
def _generate() -> tuple[pd.DataFrame, pd.DataFrame]:
    cal = trading_calendar()
    sessions = cal.between(YEAR_START, YEAR_END)
    S = len(sessions)
    codes = _codes()
    N = len(codes)
    col = {c: j for j, c in enumerate(codes)}
    names = _names(codes)
    boards = rules.boards_of(codes)
    is_st = np.array([name_is_st(n) for n in names])
    day = {str(d): i for i, d in enumerate(sessions)}

    rng = np.random.Generator(np.random.PCG64(SEED))
    u = rng.random((S, N, 16))            # every random number the market needs, drawn at once
    u0 = rng.random((N, 4))               # per-stock constants

    # Per-stock constants: starting price, volatility, beta, typical volume, list date.
    price0 = np.where(np.isin(boards, (rules.BOARD_CHINEXT, rules.BOARD_STAR)),
                      800 + 6000 * u0[:, 0] ** 2, 250 + 3500 * u0[:, 0] ** 2)
    price0 = np.rint(price0)
    vol = np.select([boards == rules.BOARD_MAIN, boards == rules.BOARD_BSE], [0.018, 0.03], 0.026)
    vol = vol * (0.7 + 0.6 * u0[:, 1])
    beta = 0.6 + 0.8 * u0[:, 2]
    base_volume = np.rint((2_000 + 60_000 * u0[:, 3] ** 2)) * 100

    # Scripts -> [S, N] array of script letters ('.' where none).
    kind = np.full((S, N), ".", dtype="<U1")

    def put(code: str, start: str, script: str) -> None:
        i0 = day[start]
        for k, ch in enumerate(script):
            if ch != "." and i0 + k < S:
                kind[i0 + k, col[code]] = ch

    for start, members in _THEME_SCRIPTS.values():
        for code, script in members:
            put(code, start, script)
    for code, start, script in _OTHER_SCRIPTS:
        put(code, start, script)

    listed_from = np.zeros(N, dtype=np.int64)   # first session index with a bar
    for code, (date, _issue) in _NEW_LISTINGS.items():
        listed_from[col[code]] = day[date]
    free = np.zeros(N, dtype=np.int64)
    for code, (date, _issue) in _NEW_LISTINGS.items():
        free[col[code]] = rules.free_sessions_after_listing(int(boards[col[code]]), date)

    market = np.zeros(S)
    for date, move in _MARKET_DAYS.items():
        market[day[date]] = move
    m_ret = 0.009 * _z(u[:, 0, 12:15]) + market

    base_ratio = rules.limit_ratios(boards, is_st, sessions[:1])[0]
    pc = price0.copy()                      # previous traded close, cents
    for code, (_date, issue) in _NEW_LISTINGS.items():
        pc[col[code]] = issue
    out = np.full((S, N, 6), np.nan)        # open high low close volume amount

    for t in range(S):
        ut = u[t]
        traded = (t >= listed_from) & (kind[t] != "S")
        age = t - listed_from
        ratio = np.where(age < free, np.nan, base_ratio)
        lu, ld = rules.limit_prices(pc / 100.0, ratio)
        lu_c = np.where(np.isfinite(lu), _cents(lu), np.inf)
        ld_c = np.where(np.isfinite(ld), _cents(ld), 1.0)
        r_step = np.where(np.isfinite(ratio), ratio, 0.2)

        # Ordinary day: market + idiosyncratic move; new listings jump on day one.
        ret = beta * m_ret[t] + vol * _z(ut[:, 0:3]) + 0.0004
        ret = np.where(age == 0, 0.8 + 1.6 * ut[:, 3], ret)
        ret = np.where((age > 0) & (age < free), 0.6 * (ut[:, 3] - 0.4), ret)
        close = np.rint(pc * (1.0 + ret))
        open_ = np.rint(pc * (1.0 + 0.35 * ret + 0.4 * vol * _z(ut[:, 4:7])))
        open_ = np.where(age == 0, np.rint(pc * (1.0 + 0.5 * ret)), open_)

        k = kind[t]
        frac = 0.35 + 0.5 * ut[:, 7]                          # where inside the band the open lies
        up_open = np.rint(pc * (1.0 + r_step * (frac - 0.25)))
        close = np.where(k == "U", lu_c, close)
        open_ = np.where(k == "U", up_open, open_)
        close = np.where(k == "B", np.rint(lu_c - pc * (0.015 + 0.05 * ut[:, 8])), close)
        open_ = np.where(k == "B", up_open, open_)
        close = np.where(k == "+", np.rint(pc * (1 + r_step * (0.4 + 0.3 * ut[:, 8]))), close)
        close = np.where(k == "-", np.rint(pc * (1 - r_step * (0.4 + 0.3 * ut[:, 8]))), close)
        down_open = np.rint(pc * (1.0 - r_step * (frac - 0.3)))
        close = np.where(k == "D", ld_c, close)
        open_ = np.where(k == "D", down_open, open_)
        close = np.where(k == "Y", lu_c, close)
        close = np.where(k == "X", ld_c, close)

        close = np.clip(close, ld_c, lu_c)
        open_ = np.clip(open_, ld_c, lu_c)
        lo_body, hi_body = np.minimum(open_, close), np.maximum(open_, close)
        wick = (0.3 + np.abs(_z(ut[:, 9:12]))) * 0.6 * vol * pc
        high = np.clip(np.rint(hi_body + wick * (0.2 + 0.8 * ut[:, 13])), hi_body, lu_c)
        low = np.clip(np.rint(lo_body - wick * (0.2 + 0.8 * ut[:, 14])), 1.0, lo_body)
        low = np.maximum(low, ld_c)
        high = np.where(k == "B", lu_c, high)
        high = np.where(k == "D", np.maximum(high, np.rint(pc * 1.005)).clip(max=lu_c), high)
        sealed_up, sealed_down = k == "Y", k == "X"
        for arr in (open_, high, low):
            arr[sealed_up] = lu_c[sealed_up]
            arr[sealed_down] = ld_c[sealed_down]

        turnover = 0.5 + ut[:, 15] * 1.5 + 4.0 * np.abs(ret)
        turnover = np.where(np.isin(k, ("U", "B", "D")), turnover * 2.5, turnover)
        turnover = np.where(sealed_up | sealed_down, 0.15, turnover)
        volume = np.maximum(np.rint(base_volume * turnover / 100.0), 1.0) * 100
        amount = np.rint(volume * (open_ + high + low + close) / 400.0)   # CNY

        out[t][traded] = np.column_stack([open_, high, low, close, volume, amount])[traded]
        pc = np.where(traded, close, pc)

    # Long form, only traded (code, session) pairs, sorted by code then date.
    tt, nn = np.nonzero(np.isfinite(out[:, :, 3]))
    order = np.lexsort((tt, nn))
    tt, nn = tt[order], nn[order]
    vals = out[tt, nn]
    panel = pd.DataFrame({
        "code": pd.array(np.asarray(codes, dtype=object)[nn], dtype="str"),
        "date": pd.DatetimeIndex(sessions[tt].astype("datetime64[ns]")),
        "open": vals[:, 0] / 100.0, "high": vals[:, 1] / 100.0,
        "low": vals[:, 2] / 100.0, "close": vals[:, 3] / 100.0,
        "volume": vals[:, 4].astype(np.int64), "amount": vals[:, 5],
    })

    list_dates = []
    for j, code in enumerate(codes):
        if code in _NEW_LISTINGS:
            list_dates.append(_NEW_LISTINGS[code][0])
        else:   # an arithmetic pre-2024 date: 2001..2022, month and day from the index
            list_dates.append(f"{2001 + (j * 7) % 22}-{1 + (j * 5) % 12:02d}-{1 + (j * 11) % 28:02d}")
    former = [(n.replace("*ST", "").replace("ST", ""),) if s else () for n, s in zip(names, is_st)]
    names_frame = pd.DataFrame({
        "code": pd.array(codes, dtype="str"),
        "name": pd.array(names, dtype="str"),
        "list_date": pd.to_datetime(pd.Series(list_dates)).astype("datetime64[ns]"),
        "former_names": pd.Series(former, dtype=object),
    })
    return panel, names_frame


def demo_panel() -> pd.DataFrame:
    """The SYNTHETIC demo panel, long form: ``code, date, open, high, low, close, volume, amount``.

    One row per (code, traded session) of 2024, sorted by code then date; a missing row on a
    session is a suspension (or the stock was not listed yet). ``code`` is text, ``date``
    ``datetime64[ns]``, prices raw CNY on the 0.01 grid, ``volume`` shares (int64), ``amount``
    CNY. There is no ``prev_close`` column: the previous traded close is the reference price.
    """
    return _generate()[0].copy()


def demo_names() -> pd.DataFrame:
    """The SYNTHETIC stock master of the demo: ``code, name, list_date, former_names``.

    ``former_names`` is a tuple of strings (an ST stock's former name is its name without the
    ST tag); ``list_date`` is ``datetime64[ns]`` (pre-2024 for all but the three new listings).
    """
    return _generate()[1].copy()

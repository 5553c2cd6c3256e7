"""Exchange status and reference price per bar: ST/*ST, S shares, delisting periods, ex-rights.

A price limit is ``reference previous close x (1 ± r)`` where ``r`` follows the stock's status
*on that day*. This module decides both for every ``[session, stock]`` cell of the aligned
market, from the best source available, in this order (later sources win per cell):

1. **Inference from the bars** (panels without status columns, like the shared panel):
   :func:`infer_reference` finds bars that the raw previous close cannot explain (the whole bar
   below the widest band's limit-down: an ex-rights/ex-dividend day) and infers a reference
   price; :func:`infer_st` decides main-board ST per session with a two-state Viterbi path over
   evidence from the bars (closes and one-price bars exactly at ±5% say ST, moves beyond ±5%
   rule it out, a halt makes a switch cheaper) and the names file as a weak prior.
2. **The panel's own columns** ``is_st``, ``s_share``, ``delisting_period``, ``prev_close``
   (from akshare's 涨跌额, baostock's ``preclose``/``isST``, or the user).
3. **A status file** (``[data] status = "status.csv"``): ``code,date,is_st,prev_close`` and
   optionally ``s_share,delisting_period``; an empty cell leaves that field to 1 and 2.

The result is an ``[S, N]`` uint8 array of bit flags (:data:`ST`, :data:`S_SHARE`,
:data:`DELISTING` for the status, :data:`INFERRED_ST`, :data:`INFERRED_REF`, :data:`FROM_FILE`
for where it came from) plus the reference previous close; ``backtests.data.market.build_market`` turns them
into limit ratios with :func:`backtests.rules.limit_ratios` and keeps both on the
:class:`~backtests.market.Market` so ``scan``, the engine, the backtrader reference and
``crosscheck`` all read one status and one reference price. :func:`status_frame` writes the
readable table (``hypebt data status``), in the same layout the status file is read in.
The heuristics and their measured error on the shared panel are in ``docs/status.md``.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from backtests.core import rules
from backtests.core.errors import DataError

# status bits
ST = np.uint8(1)            # ST or *ST (risk warning) that session
S_SHARE = np.uint8(2)       # unreformed share (S prefix): 5% band on the main board
DELISTING = np.uint8(4)     # in the delisting period (退市整理期)
# source bits
INFERRED_ST = np.uint8(16)  # the ST bit of this cell was inferred from the bars
INFERRED_REF = np.uint8(32)  # the reference previous close was inferred (ex-rights day)
FROM_FILE = np.uint8(64)    # a status file row set this cell

STATUS_COLUMNS = ("code", "date", "is_st", "s_share", "delisting_period", "prev_close",
                  "raw_prev_close", "source")

# ---------------------------------------------------------------- inference parameters
# Ex-rights: bonus + transfer shares per share tried for the reference price raw / (1 + k)
# (送转 are announced per 10 shares, almost always in steps of 0.5 share per 10).
BONUS_GRID = np.round(np.arange(0.05, 3.0001, 0.05), 2)
# ST Viterbi costs (log-likelihood ratios, rounded): see docs/status.md.
COST_CLOSE_AT_5 = 3.0       # non-ST state, close exactly at the ±5% price
COST_ONE_PRICE_AT_5 = 6.0   # non-ST state, one-price bar exactly at the ±5% price
COST_TOUCH_5 = 1.0          # non-ST state, high or low exactly at the ±5% price (not the close)
COST_BEYOND_5 = 1000.0      # ST state, a price beyond ±5% of a trusted reference
COST_BEYOND_5_SOFT = 4.0    # ... of an inferred reference (ex-rights day)
COST_SWITCH = 6.0           # entering or leaving ST
COST_SWITCH_AFTER_HALT = 2.0  # ... on the first session after a halt (ST is announced with one)
COST_AGAINST_NAMES = 0.05   # per session in the state the names file does not give
INFER_BLOCK = 1024          # stocks per block of infer_status (bounds its temporaries)


class Inference(NamedTuple):
    """What the bars told: flags ``[S, N]`` uint8, reference previous close ``[S, N]``, and
    counts for the load warning."""
    flags: np.ndarray
    prev_close: np.ndarray
    counts: dict


def limits_contain(ref, ratio, high, low):
    """Whether ``[low, high]`` lies inside the limits of ``ref`` at ``ratio`` (half a tick of
    tolerance, as the scan and the load warning use)."""
    up, down = rules.limit_prices(ref, ratio)
    ht = rules.TICK / 2
    with np.errstate(invalid="ignore"):
        return (high <= up + ht) & (low >= down - ht)


def infer_reference(raw_prev, open_, high, low, wide_ratio, usable):
    """Reference previous close on ex-rights days found from the bars alone.

    A bar that opens below the limit-down that the raw previous close allows at the widest band
    of its board (``wide_ratio``, ``[S, N]``) cannot have traded at that reference: the exchange
    lowered it for a dividend or bonus shares. (The open, not the low: a bar that merely dips
    below the band is an error in the data or the status, not an ex-date.) The inferred reference is
    ``raw / (1 + k)`` for the bonus ratio ``k`` of :data:`BONUS_GRID` whose band holds the whole
    bar and which lies nearest the open (ex-dates rarely gap); when no ratio fits, the price in
    the feasible interval ``[high / (1 + r), low / (1 - r)]`` nearest the open. Returns
    ``(reference [S, N], inferred mask, unexplained mask)``; cells not inferred keep ``raw``.
    """
    ref = np.array(raw_prev, dtype=np.float64, copy=True)
    ht = rules.TICK / 2
    _, down = rules.limit_prices(raw_prev, wide_ratio)
    with np.errstate(invalid="ignore"):
        # the open below the limit-down: no trade at the raw reference could print it
        cand = usable & np.isfinite(open_) & np.isfinite(down) & (open_ < down - ht)
    t, j = np.nonzero(cand)
    if len(t) == 0:
        return ref, cand, cand.copy()
    raw = raw_prev[t, j]
    r = wide_ratio[t, j]
    o, h, lo = open_[t, j], high[t, j], low[t, j]
    trial = np.round(raw[:, None] / (1.0 + BONUS_GRID[None, :]), 2)        # [K, G]
    fits = limits_contain(trial, r[:, None], h[:, None], lo[:, None])
    dist = np.where(fits, np.abs(np.log(o[:, None] / trial)), np.inf)
    best = np.argmin(dist, axis=1)
    pick = trial[np.arange(len(t)), best]
    ok = np.isfinite(dist[np.arange(len(t)), best])
    # no clean ratio: nearest-to-open price of the feasible interval, on the cent grid
    lo_ref = np.ceil(h / (1.0 + r) * 100.0 - 1e-6) / 100.0
    hi_ref = np.floor(lo / (1.0 - r) * 100.0 + 1e-6) / 100.0
    free = np.clip(np.round(o, 2), lo_ref, hi_ref)
    free_ok = (lo_ref <= hi_ref) & limits_contain(free, r, h, lo)
    value = np.where(ok, pick, np.where(free_ok, free, np.nan))
    found = np.isfinite(value)
    ref[t[found], j[found]] = value[found]
    inferred = np.zeros_like(cand)
    inferred[t[found], j[found]] = True
    unexplained = cand & ~inferred
    return ref, inferred, unexplained


def _viterbi(e0, e1, switch, init0, init1):
    """Cheapest 0/1 path per column: ``e0``/``e1`` ``[S, N]`` costs of each state, ``switch``
    ``[S, N]`` cost of changing state into session t. Ties keep the state. Returns ``[S, N]``
    bool (True = state 1)."""
    S, N = e0.shape
    c0 = init0 + e0[0]
    c1 = init1 + e1[0]
    from1 = np.zeros((S, N), bool)      # state 0 at t came from state 1 at t-1
    from0 = np.zeros((S, N), bool)      # state 1 at t came from state 0 at t-1
    for t in range(1, S):
        a = c1 + switch[t]
        b = c0 + switch[t]
        from1[t] = a < c0
        from0[t] = b < c1
        c0, c1 = np.minimum(c0, a) + e0[t], np.minimum(c1, b) + e1[t]
    state = np.zeros((S, N), bool)
    cur = c1 < c0
    for t in range(S - 1, -1, -1):
        state[t] = cur
        if t:
            cur = np.where(cur, ~from0[t], from1[t])
    return state


def infer_st(ref, high, low, close, boards, sessions, prior_st, usable, ref_inferred,
             skip=None):
    """Main-board ST per session from the bars (``[S, N]`` bool).

    Evidence per bar, against ``ref`` (the reference previous close): a close exactly at the
    ±5% price costs the non-ST state :data:`COST_CLOSE_AT_5` (a one-price bar there
    :data:`COST_ONE_PRICE_AT_5`, a touch of it :data:`COST_TOUCH_5`); any price beyond ±5%
    makes ST impossible (:data:`COST_BEYOND_5`, softer on inferred ex-rights references).
    Changing state costs :data:`COST_SWITCH`, less on the first session after a halt; each
    session against ``prior_st`` (the names file) costs :data:`COST_AGAINST_NAMES`. Other
    boards keep ``prior_st`` (their ST band equals the normal one, so bars cannot tell).
    Only sessions where the ST band differs from the normal one are inferred; stocks in
    ``skip`` (``[N]``: S shares, whose 5% band has another cause) keep ``prior_st``."""
    S, N = high.shape
    prior = np.broadcast_to(np.asarray(prior_st, dtype=bool), (S, N))
    main = np.asarray(boards) == rules.BOARD_MAIN
    if skip is not None:
        main = main & ~np.asarray(skip, dtype=bool)
    r_st = rules.limit_ratios(boards, np.ones(N, bool), sessions)
    r_no = rules.limit_ratios(boards, np.zeros(N, bool), sessions)
    differs = main[None, :] & (r_st < r_no)
    if not differs.any():
        return prior.copy()
    ht = rules.TICK / 2
    up5, dn5 = rules.limit_prices(ref, np.where(differs, r_st, np.nan))
    ok = usable & differs & np.isfinite(up5)
    with np.errstate(invalid="ignore"):
        at_up_c = np.abs(close - up5) < ht
        at_dn_c = np.abs(close - dn5) < ht
        one = np.abs(high - low) < ht
        touch = (np.abs(high - up5) < ht) | (np.abs(low - dn5) < ht)
        beyond = (high > up5 + ht) | (low < dn5 - ht)
    e0 = np.zeros((S, N))
    e1 = np.zeros((S, N))
    at = (at_up_c | at_dn_c) & ok
    e0 += np.where(at & one, COST_ONE_PRICE_AT_5, np.where(at, COST_CLOSE_AT_5, 0.0))
    e0 += np.where(ok & touch & ~at, COST_TOUCH_5, 0.0)
    e1 += np.where(ok & beyond, np.where(ref_inferred, COST_BEYOND_5_SOFT, COST_BEYOND_5), 0.0)
    e0 += np.where(prior, COST_AGAINST_NAMES, 0.0)
    e1 += np.where(prior, 0.0, COST_AGAINST_NAMES)
    has_bar = np.isfinite(close)
    after_halt = np.zeros((S, N), bool)
    after_halt[1:] = has_bar[1:] & ~has_bar[:-1]
    switch = np.where(after_halt, COST_SWITCH_AFTER_HALT, COST_SWITCH)
    init1 = np.where(prior[0], 0.0, COST_SWITCH / 2)
    init0 = np.where(prior[0], COST_SWITCH / 2, 0.0)
    st = _viterbi(e0, e1, switch, init0, init1)
    # carry the status over halts as it was at the last bar (no evidence there either way)
    return np.where(main[None, :], st, prior)


def infer_status(raw_prev, open_, high, low, close, boards, sessions, prior_st, free,
                 *, infer_st_bits: bool = True, given_ref=None, infer_ref: bool = True,
                 skip_st=None) -> Inference:
    """Both inferences on aligned arrays. ``free`` ``[S, N]`` marks sessions without a price
    limit (listing days); ``given_ref`` ``[S, N]`` (NaN where absent) is a reference the data
    gave, trusted over inference. ``prior_st`` (``[N]`` or ``[S, N]``) is the ST status known
    without the bars; with ``infer_st_bits=False`` it is the answer. ``skip_st`` ``[N]``:
    stocks whose ST status is not inferred (S shares)."""
    S, N = close.shape
    if N > INFER_BLOCK:
        # Stocks are independent: block by block, so the temporaries of a 10-year market
        # stay a fraction of a GB. Counts add up (each stock is in one block).
        flags = np.empty((S, N), np.uint8)
        ref = np.empty((S, N))
        counts: dict = {}
        prior_all = np.broadcast_to(np.asarray(prior_st, dtype=bool), (S, N))
        for a in range(0, N, INFER_BLOCK):
            b = slice(a, a + INFER_BLOCK)
            part = infer_status(
                raw_prev[:, b], open_[:, b], high[:, b], low[:, b], close[:, b], boards[b],
                sessions, prior_all[:, b], free[:, b], infer_st_bits=infer_st_bits,
                given_ref=None if given_ref is None else given_ref[:, b], infer_ref=infer_ref,
                skip_st=None if skip_st is None else skip_st[b])
            flags[:, b], ref[:, b] = part.flags, part.prev_close
            for k, v in part.counts.items():
                counts[k] = counts.get(k, 0) + v
        return Inference(flags, ref, counts)
    has_bar = np.isfinite(close)
    usable = has_bar & np.isfinite(raw_prev) & ~free
    usable_ref = usable & infer_ref
    if given_ref is not None:
        usable_ref = usable_ref & ~np.isfinite(given_ref)
    wide = rules.limit_ratios(boards, np.zeros(N, bool), sessions)
    ref, ref_inf, unexplained = infer_reference(raw_prev, open_, high, low, wide, usable_ref)
    if given_ref is not None:
        ref = np.where(np.isfinite(given_ref), given_ref, ref)
    prior = np.broadcast_to(np.asarray(prior_st, dtype=bool), (S, N))
    flags = np.zeros((S, N), np.uint8)
    if infer_st_bits:
        st = infer_st(ref, high, low, close, boards, sessions, prior, usable & np.isfinite(ref),
                      ref_inf, skip_st)
        changed = st != prior
        flags |= np.where(changed, INFERRED_ST, 0).astype(np.uint8)
    else:
        st = prior
    flags |= np.where(st, ST, 0).astype(np.uint8)
    flags |= np.where(ref_inf, INFERRED_REF, 0).astype(np.uint8)
    changed_cells = (flags & INFERRED_ST) != 0
    counts = {
        "st_sessions": int(changed_cells.sum()),
        "st_stocks": int(changed_cells.any(axis=0).sum()),
        "st_on": int((changed_cells & st).sum()),
        "st_off": int((changed_cells & ~st).sum()),
        "ref_sessions": int(ref_inf.sum()),
        "ref_stocks": int(ref_inf.any(axis=0).sum()),
        "ref_unexplained": int(unexplained.sum()),
    }
    return Inference(flags, ref, counts)


def inference_message(source: str, counts: dict) -> str | None:
    """The one warning line that reports what was inferred (None when nothing was)."""
    parts = []
    if counts.get("st_sessions"):
        parts.append(f"ST status differs from the names on {counts['st_sessions']:,} "
                     f"session(s) of {counts['st_stocks']} stock(s) ({counts['st_on']:,} ST, "
                     f"{counts['st_off']:,} not ST)")
    if counts.get("ref_sessions"):
        parts.append(f"an ex-rights reference price on {counts['ref_sessions']:,} session(s) of "
                     f"{counts['ref_stocks']} stock(s)")
    if not parts:
        return None
    return (f"{source}: inferred from the bars: {'; '.join(parts)}. `hypebt data status` "
            f"writes the table; a [data] status file overrides it (docs/status.md)")


def delisting_first_sessions(flags, close) -> np.ndarray:
    """``[S, N]`` True on the first bar of each delisting period (no price limit then): a bar
    with the DELISTING bit whose previous bar had none."""
    has_bar = np.isfinite(close)
    dl = ((flags & DELISTING) != 0) & has_bar
    S, N = close.shape
    idx = np.where(has_bar, np.arange(S)[:, None], -1)
    np.maximum.accumulate(idx, axis=0, out=idx)
    prev = np.vstack([np.full((1, N), -1), idx[:-1]]) if S else idx
    prev_dl = np.where(prev >= 0, dl[np.maximum(prev, 0), np.arange(N)], False)
    return dl & ~prev_dl


# ---------------------------------------------------------------- user tables
def _read_code_date_table(p: Path, what: str, date_col: str, expected: str):
    """``(text frame, out)`` of a user CSV keyed by ``code`` and ``date_col`` (the actions and
    the status file): every cell read as text; ``out`` holds the checked 6-digit codes and the
    dates as datetime64[D]. Errors name the file, the line (header = line 1) and the cell."""
    try:
        frame = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"{what} {p}: cannot read it ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    for col in ("code", date_col):
        if col not in frame.columns:
            raise DataError(f"{what} {p}: no {col!r} column; expected {expected}")
    out = pd.DataFrame({"code": frame["code"].str.strip()})
    bad = ~out["code"].str.fullmatch(r"\d{6}")
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{what} {p} line {i + 2}: code {frame['code'].iloc[i]!r} is not "
                        "6 digits")
    days = pd.to_datetime(frame[date_col].str.strip(), format="mixed", errors="coerce")
    if days.isna().any():
        i = int(np.flatnonzero(days.isna())[0])
        raise DataError(f"{what} {p} line {i + 2}: {date_col} {frame[date_col].iloc[i]!r} is "
                        "not YYYYMMDD or YYYY-MM-DD")
    out[date_col] = days.to_numpy().astype("datetime64[D]")
    return frame, out


# ---------------------------------------------------------------- corporate actions
ACTION_COLUMNS = ("code", "ex_date", "cash", "bonus", "transfer", "rights", "rights_price",
                  "par")
# Columns of Market.entitlements ([E, 6] float64, one row per (session, stock) where a holder
# of record receives something: the engine and the reference credit positions from it).
(ENT_SESSION, ENT_STOCK, ENT_CASH, ENT_SHARES, ENT_TAXABLE, ENT_FACTOR) = range(6)
N_ENT = 6


def read_actions_file(path) -> pd.DataFrame:
    """Read a corporate-actions table: ``code, ex_date`` and per share (not per 10 shares)
    ``cash`` (pre-tax dividend, CNY), ``bonus`` (送股), ``transfer`` (转增), ``rights`` (配股
    ratio) and ``rights_price``; empty = 0; ``par`` (the face value a bonus share is taxed at,
    empty = 1.00). One row per (code, ex_date)."""
    p = Path(path)
    frame, out = _read_code_date_table(p, "actions file", "ex_date", ",".join(ACTION_COLUMNS))
    for col in ACTION_COLUMNS[2:]:
        text = frame[col].str.strip() if col in frame.columns else pd.Series([""] * len(frame))
        empty = repr(rules.PAR_VALUE) if col == "par" else "0"
        num = pd.to_numeric(text.where(text != "", empty), errors="coerce")
        bad = num.isna() | ~np.isfinite(num) | (num < 0) | ((num == 0) & (col == "par"))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            what = "a number > 0 (CNY)" if col == "par" else \
                "a number >= 0 (per share: 10送3 is bonus 0.3)"
            raise DataError(f"actions file {p} line {i + 2}: {col} {text.iloc[i]!r} is not "
                            f"{what}")
        out[col] = num.to_numpy(dtype=np.float64)
    if out.duplicated(["code", "ex_date"]).any():
        i = int(np.flatnonzero(out.duplicated(["code", "ex_date"]))[0])
        raise DataError(f"actions file {p} line {i + 2}: a second row for {out['code'].iloc[i]} "
                        f"on {out['ex_date'].iloc[i]}; put both actions in one row")
    out.attrs["source"] = str(p)
    return out


def ex_reference(prev_close, cash=0.0, bonus=0.0, transfer=0.0, rights=0.0, rights_price=0.0):
    """The exchanges' ex-rights/ex-dividend reference price (除权除息参考价):
    ``(prev_close - cash + rights_price x rights) / (1 + bonus + transfer + rights)``, rounded
    half-up to the cent (SSE 交易规则 §4.3.2 / SZSE 交易规则 §4.4.2)."""
    raw = (np.asarray(prev_close, dtype=np.float64) - cash + np.multiply(rights_price, rights)) \
        / (1.0 + np.add(np.add(bonus, transfer), rights))
    return np.floor(raw * 100.0 + 0.5 + 1e-9) / 100.0


def locate_actions(actions, codes, sessions, has_bar):
    """Cells of the ex-dates in ``actions`` (a frame as :func:`read_actions_file` returns it):
    ``(t, j, values)``, ``values`` the action columns per located row. An ex-date on which the
    stock has no bar (suspended) moves to its next bar: the reference applies there; rows of
    codes outside the market or with no bar from the ex-date on are left out."""
    codes = np.asarray(codes).astype(str)
    sessions = np.asarray(sessions, dtype="datetime64[D]")
    S = len(sessions)
    c = actions["code"].to_numpy().astype(str)
    d = actions["ex_date"].to_numpy().astype("datetime64[D]")
    j = np.searchsorted(codes, c)
    t = np.searchsorted(sessions, d)          # first session on or after the ex-date
    ok = (j < len(codes)) & (t < S)
    ok &= codes[np.minimum(j, len(codes) - 1)] == c
    t, j = t[ok], j[ok]
    # next bar at or after t, per stock: a backward running minimum of bar indices
    nxt = np.where(has_bar, np.arange(S)[:, None], S)
    nxt = np.minimum.accumulate(nxt[::-1], axis=0)[::-1] if S else nxt
    t = nxt[t, j] if len(t) else t
    found = t < S
    values = {k: actions[k].to_numpy(dtype=np.float64)[ok][found] for k in ACTION_COLUMNS[2:]}
    return t[found].astype(np.int64), j[found].astype(np.int64), values


def apply_actions(located, raw_prev, prev_close, flags):
    """Reference prices of the ex-dates ``located`` (:func:`locate_actions`), computed from the
    raw previous close; they replace inferred references there."""
    t, j, a = located
    ref = ex_reference(raw_prev[t, j], a["cash"], a["bonus"], a["transfer"], a["rights"],
                       a["rights_price"])
    prev_close = prev_close.copy()
    flags = flags.copy()
    good = np.isfinite(ref) & (ref > 0)
    prev_close[t[good], j[good]] = ref[good]
    flags[t[good], j[good]] &= np.uint8(~INFERRED_REF & 0xFF)
    return prev_close, flags


def entitlements(located, raw_prev, prev_close, has_bar) -> np.ndarray:
    """What a holder of record receives, ``[E, N_ENT]`` rows sorted by (session, stock): the
    columns ``ENT_*``. ``cash``: dividend per share before tax; ``shares``: new shares per
    share (送股 + 转增); ``taxable``: dividend income per share for the dividend tax (cash +
    送股 x par; 转增 is not income); ``factor``: reference / raw previous close, which scales
    the position's entry price and highest close (stops stay where they were in value).

    Rows come from the actions table (``located``, :func:`locate_actions`; rights are not
    subscribed: a holder who does not pay lets them lapse) and, on every other bar whose
    reference differs from the raw previous close by more than half a tick (the data's own
    ``prev_close``, an inferred ex-rights reference or a status-file row), from that
    difference alone: ``raw / reference - 1`` new shares per share (snapped to the 0.01 grid
    of 送转 ratios when that gives the same reference), untaxed, so the holder's value is
    continuous across the ex-date (docs/status.md)."""
    S, N = raw_prev.shape
    # only the cells' own factors are computed: a whole-market array of them would be the
    # largest temporary of a 10-year load
    with np.errstate(invalid="ignore"):
        gap = np.abs(prev_close - raw_prev) > rules.TICK / 2     # False where either is NaN
    gap &= has_bar
    gap &= prev_close > 0

    def factor_at(t, j):
        with np.errstate(invalid="ignore", divide="ignore"):
            return prev_close[t, j] / raw_prev[t, j]

    if located is not None and len(located[0]):
        t, j, a = located
        gap[t, j] = False
        ft = factor_at(t, j)
        table = np.column_stack([
            t.astype(np.float64), j.astype(np.float64), a["cash"], a["bonus"] + a["transfer"],
            a["cash"] + a["bonus"] * a["par"], np.where(np.isfinite(ft), ft, 1.0)])
    else:
        table = np.empty((0, N_ENT))
    gt, gj = np.nonzero(gap)
    del gap
    f = factor_at(gt, gj)
    ok = np.isfinite(f) & (f > 0)
    gt, gj, f = gt[ok], gj[ok], f[ok]
    # 送转 are announced per 10 shares in tenths: a ratio on that 0.01 grid whose reference
    # rounds to the given one is taken as it (10转5 is 0.5, not 13.89 / 9.26 - 1 = 0.49995).
    k = 1.0 / f - 1.0
    snapped = np.round(k, 2)
    exact = ex_reference(raw_prev[gt, gj], transfer=snapped) == prev_close[gt, gj]
    k = np.where(exact & (snapped > -1.0), snapped, k)
    other = np.column_stack([gt.astype(np.float64), gj.astype(np.float64),
                             np.zeros(len(gt)), k, np.zeros(len(gt)), f])
    rows = np.vstack([table, other]) if len(table) else other.reshape(-1, N_ENT)
    order = np.lexsort((rows[:, ENT_STOCK], rows[:, ENT_SESSION]))
    return np.ascontiguousarray(rows[order], dtype=np.float64)


# ---------------------------------------------------------------- the status file
def apply_status_file(path_or_frame, codes, sessions, flags, prev_close):
    """Overlay a status file (:func:`read_status_file`) on ``flags``/``prev_close``: each row
    sets the given fields of its (code, session) cell and marks it :data:`FROM_FILE`. Rows for
    codes or dates outside the market are ignored (a file may cover a longer history)."""
    frame = (read_status_file(path_or_frame) if not hasattr(path_or_frame, "columns")
             else path_or_frame)
    flags = flags.copy()
    prev_close = prev_close.copy()
    codes = np.asarray(codes).astype(str)
    sessions = np.asarray(sessions, dtype="datetime64[D]")
    j = np.searchsorted(codes, frame["code"].to_numpy().astype(str))
    t = np.searchsorted(sessions, frame["date"].to_numpy().astype("datetime64[D]"))
    ok = (j < len(codes)) & (t < len(sessions))
    ok &= codes[np.minimum(j, len(codes) - 1)] == frame["code"].to_numpy().astype(str)
    ok &= sessions[np.minimum(t, len(sessions) - 1)] == frame["date"].to_numpy().astype(
        "datetime64[D]")
    t, j = t[ok], j[ok]
    for col, bit in (("is_st", ST), ("s_share", S_SHARE), ("delisting_period", DELISTING)):
        v = frame[col].to_numpy(dtype=np.float64)[ok]
        on, off = v == 1.0, v == 0.0
        flags[t[on], j[on]] |= bit
        flags[t[off], j[off]] &= np.uint8(~bit & 0xFF)
        if col == "is_st":
            known = on | off
            flags[t[known], j[known]] &= np.uint8(~INFERRED_ST & 0xFF)
    pc = frame["prev_close"].to_numpy(dtype=np.float64)[ok]
    has = np.isfinite(pc)
    prev_close[t[has], j[has]] = pc[has]
    flags[t[has], j[has]] &= np.uint8(~INFERRED_REF & 0xFF)
    flags[t, j] |= FROM_FILE
    return flags, prev_close


def read_status_file(path) -> pd.DataFrame:
    """Read a status file: ``code,date`` and any of ``is_st, s_share, delisting_period,
    prev_close`` (empty = not given). Returns a frame with those columns, codes as 6-digit
    text, dates as datetime64[D], flags as float (1/0/NaN), prev_close as float."""
    p = Path(path)
    frame, out = _read_code_date_table(
        p, "status file", "date",
        "code,date,is_st,prev_close (and optionally s_share,delisting_period)")
    truth = {"1": 1.0, "true": 1.0, "yes": 1.0, "y": 1.0, "t": 1.0, "是": 1.0,
             "0": 0.0, "false": 0.0, "no": 0.0, "n": 0.0, "f": 0.0, "否": 0.0, "": np.nan}
    for col in ("is_st", "s_share", "delisting_period"):
        text = frame[col].str.strip().str.lower() if col in frame.columns else \
            pd.Series([""] * len(frame))
        val = text.map(truth)
        if val.isna().any() and (text[val.isna()] != "").any():
            i = int(np.flatnonzero(val.isna() & (text != ""))[0])
            raise DataError(f"status file {p} line {i + 2}: {col} {frame[col].iloc[i]!r} is not "
                            "a yes/no value (1/0, true/false, 是/否) or empty")
        out[col] = val.to_numpy(dtype=np.float64)
    pc = frame["prev_close"].str.strip() if "prev_close" in frame.columns else \
        pd.Series([""] * len(frame))
    num = pd.to_numeric(pc.where(pc != ""), errors="coerce")
    bad = (pc != "") & (num.isna() | (num <= 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"status file {p} line {i + 2}: prev_close {pc.iloc[i]!r} is not a "
                        "positive number")
    out["prev_close"] = num.to_numpy(dtype=np.float64)
    if out.duplicated(["code", "date"]).any():
        i = int(np.flatnonzero(out.duplicated(["code", "date"]))[0])
        raise DataError(f"status file {p} line {i + 2}: a second row for {out['code'].iloc[i]} "
                        f"on {out['date'].iloc[i]}; keep one row per (code, date)")
    out.attrs["source"] = str(p)
    return out


def status_frame(market) -> pd.DataFrame:
    """The readable status table of a market: one row per (code, session) whose status is not
    the default (ST, S share, delisting period) or whose reference differs from the previous
    traded close, with where it came from. Same columns :func:`read_status_file` reads."""
    flags = market.status
    S, N = market.close.shape
    if flags is None:
        flags = np.broadcast_to(np.where(np.asarray(market.is_st, bool), ST, 0).astype(np.uint8),
                                (S, N))
    raw = raw_prev_close(market.close, market.prev_close[0] if S else None)
    with np.errstate(invalid="ignore"):
        ref_diff = np.isfinite(market.prev_close) & np.isfinite(raw) & \
            (np.abs(market.prev_close - raw) > rules.TICK / 2)
    keep = ((flags & (ST | S_SHARE | DELISTING)) != 0) | ref_diff | ((flags & FROM_FILE) != 0)
    keep &= np.isfinite(market.close)
    t, j = np.nonzero(keep)
    order = np.lexsort((t, j))
    t, j = t[order], j[order]
    f = flags[t, j]
    src = np.where((f & FROM_FILE) != 0, "file",
                   np.where((f & (INFERRED_ST | INFERRED_REF)) != 0, "inferred", "data"))
    return pd.DataFrame({
        "code": np.asarray(market.codes)[j].astype(str),
        "date": pd.DatetimeIndex(np.asarray(market.sessions)[t]).strftime("%Y-%m-%d"),
        "is_st": ((f & ST) != 0).astype(int),
        "s_share": ((f & S_SHARE) != 0).astype(int),
        "delisting_period": ((f & DELISTING) != 0).astype(int),
        "prev_close": np.round(market.prev_close[t, j], 2),
        "raw_prev_close": np.round(raw[t, j], 2),
        "source": src,
    }, columns=list(STATUS_COLUMNS))


def raw_prev_close(close, first=None):
    """The previous traded close per cell (carried over halts); ``first`` ``[N]`` seeds the
    first session (NaN when not given)."""
    S, N = close.shape
    valid = np.isfinite(close)
    idx = np.where(valid, np.arange(S)[:, None], -1)
    np.maximum.accumulate(idx, axis=0, out=idx)
    prev = np.vstack([np.full((1, N), -1), idx[:-1]]) if S else idx
    out = np.where(prev >= 0, close[np.maximum(prev, 0), np.arange(N)], np.nan)
    if first is not None and S:
        out = np.where((prev < 0) & np.isfinite(first)[None, :], np.asarray(first)[None, :], out)
    return out


def st_by_session(market) -> np.ndarray:
    """``[S, N]`` bool ST status per session (the last-session ``is_st`` broadcast when the
    market carries no per-session status)."""
    if getattr(market, "status", None) is not None:
        return (market.status & ST) != 0
    return np.broadcast_to(np.asarray(market.is_st, dtype=bool), market.close.shape)

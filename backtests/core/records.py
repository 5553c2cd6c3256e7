"""Record layouts shared by the numba engine and the pandas edge.

The engine writes every order — filled, rejected or expired — into a numpy structured array of
``order_dt``; reasons are small integers so the kernel never touches strings. This module holds
those layouts and the tables that turn codes back into names, plus the layout of the packed
parameter row (``PARAM_FIELDS``) that a grid passes to the kernel one row per parameter set.

Only numpy here: the strategy layer imports it without pulling in numba.
"""
from __future__ import annotations

import numpy as np

# ---------------------------------------------------------------- orders
order_dt = np.dtype([
    ("session", np.int32),      # session index t
    ("stock", np.int32),        # stock index j (codes are sorted, so j order = code order)
    ("side", np.int8),          # +1 buy, -1 sell
    ("shares", np.int64),
    ("price", np.float64),      # fill price; rejected: the price aimed at (NaN: none reached)
    ("status", np.int8),        # STATUS_*
    ("reason", np.int8),        # REJECT_* (0 for a fill)
    ("commission", np.float64),
    ("stamp_duty", np.float64),
    ("transfer_fee", np.float64),
    ("exit_reason", np.int8),   # EXIT_* for sells, 0 for buys
    ("wait", np.int32),         # sells: sessions since the exit's first attempt (0 = first try)
    ("dividend", np.float64),   # credits: cash dividend credited (before tax), CNY
    ("dividend_tax", np.float64),  # sells: dividend tax charged on the sale, CNY
], align=False)

# A credit is no order: a position held over an ex-date receives its new shares (``shares``)
# and cash dividend (``dividend``); ``price`` is the ex-date's reference price.
SIDE_BUY, SIDE_SELL, SIDE_CREDIT = 1, -1, 0
SIDE_NAMES = {SIDE_BUY: "buy", SIDE_SELL: "sell", SIDE_CREDIT: "credit"}

STATUS_FILLED, STATUS_REJECTED, STATUS_EXPIRED = 0, 1, 2
STATUS_NAMES = {STATUS_FILLED: "filled", STATUS_REJECTED: "rejected", STATUS_EXPIRED: "expired"}

# Reject reasons, codes 1..10 in this order (docs/interfaces.md "Records").
REJECT_NONE = 0
(REJECT_LIMIT_UP_SEALED, REJECT_LIMIT_DOWN_SEALED, REJECT_T_PLUS_1, REJECT_SUSPENDED,
 REJECT_INSUFFICIENT_CASH, REJECT_BELOW_MIN_LOT, REJECT_VOLUME_CAP, REJECT_MAX_POSITIONS,
 REJECT_NOT_TOUCHED, REJECT_NO_LIMIT) = range(1, 11)
REJECT_REASONS = {
    REJECT_NONE: "",
    REJECT_LIMIT_UP_SEALED: "limit_up_sealed",
    REJECT_LIMIT_DOWN_SEALED: "limit_down_sealed",
    REJECT_T_PLUS_1: "t_plus_1",
    REJECT_SUSPENDED: "suspended",
    REJECT_INSUFFICIENT_CASH: "insufficient_cash",
    REJECT_BELOW_MIN_LOT: "below_min_lot",
    REJECT_VOLUME_CAP: "volume_cap",
    REJECT_MAX_POSITIONS: "max_positions",
    REJECT_NOT_TOUCHED: "not_touched",
    REJECT_NO_LIMIT: "no_limit",
}
N_REJECT = len(REJECT_REASONS)  # including 0

# Exit reasons 1..8; buys carry 0 and are labelled "entry" in trades.csv.
EXIT_NONE = 0
(EXIT_STOP_LOSS, EXIT_TAKE_PROFIT, EXIT_BREAK, EXIT_MAX_HOLD, EXIT_HOLD_N, EXIT_TRAILING_STOP,
 EXIT_THEME_COOL, EXIT_SIGNAL) = range(1, 9)
EXIT_REASONS = {
    EXIT_NONE: "",
    EXIT_STOP_LOSS: "stop_loss",
    EXIT_TAKE_PROFIT: "take_profit",
    EXIT_BREAK: "break",
    EXIT_MAX_HOLD: "max_hold",
    EXIT_HOLD_N: "hold_n",
    EXIT_TRAILING_STOP: "trailing_stop",
    EXIT_THEME_COOL: "theme_cool",
    EXIT_SIGNAL: "signal",
}

# Skip reasons 1..15: a mark that an entry filter or the sentiment gate set aside places no
# order; the kernel counts it under its first failing rule (docs/strategies.md, "Filters").
SKIP_NONE = 0
(SKIP_BOARD, SKIP_ST, SKIP_PRICE, SKIP_AMOUNT, SKIP_STREAK, SKIP_THEME_HEAT, SKIP_DRAGON_HEAD,
 SKIP_OPEN_GAP, SKIP_MAX_PER_THEME, SKIP_GATE_LIMIT_UPS, SKIP_GATE_LIMIT_DOWNS, SKIP_GATE_HEIGHT,
 SKIP_GATE_PROMOTION_1, SKIP_GATE_PROMOTION_2PLUS, SKIP_GATE_BROKEN_RATE) = range(1, 16)
SKIP_REASONS = {
    SKIP_NONE: "",
    SKIP_BOARD: "board",
    SKIP_ST: "st",
    SKIP_PRICE: "price",
    SKIP_AMOUNT: "amount",
    SKIP_STREAK: "streak",
    SKIP_THEME_HEAT: "theme_heat",
    SKIP_DRAGON_HEAD: "dragon_head",
    SKIP_OPEN_GAP: "open_gap",
    SKIP_MAX_PER_THEME: "max_per_theme",
    SKIP_GATE_LIMIT_UPS: "gate_limit_ups",
    SKIP_GATE_LIMIT_DOWNS: "gate_limit_downs",
    SKIP_GATE_HEIGHT: "gate_height",
    SKIP_GATE_PROMOTION_1: "gate_promotion_1",
    SKIP_GATE_PROMOTION_2PLUS: "gate_promotion_2plus",
    SKIP_GATE_BROKEN_RATE: "gate_broken_rate",
}
N_SKIP = len(SKIP_REASONS)  # including 0

# ---------------------------------------------------------------- packed parameter row
# One float64 row per parameter set; the kernel reads flags by these indices. Strategies map
# their parameters onto these fields (strategies/), so a new strategy is a new mapping.
PARAM_FIELDS: tuple[str, ...] = (
    "entry_limit",         # 0: buy at the session's open; 1: queue at limit-up (打板)
    "limit_fill_touched",  # entry_limit: 1 fill whenever touched; 0 only when the board broke
    "exit_on_break",       # 1: exit on the first close that is not a limit-up close
    "exit_at_close",       # 1: sell at the deciding close; 0: at the next session's open
    "stop_loss",           # fraction below entry price, 0 = off
    "take_profit",         # fraction above entry price, 0 = off
    "max_hold",            # sessions after the entry session, 0 = off
    "max_hold_reason",     # exit reason code recorded for the max_hold rule (EXIT_*)
    "max_positions",       # positions held at once
    "skip_held",           # 1: a mark on a held stock places no order; 0: it adds to the position
    "cash",                # starting cash, CNY
    "position_size",       # fraction of the previous session's equity per entry
    "fixed_cash",          # CNY per entry when > 0 (overrides position_size)
    "commission_rate",
    "commission_min",      # CNY per order
    "slippage_ticks",      # 0.01 CNY ticks against the order, clamped to [low, high]
    "at_limit_open_fill",  # 1: an order opening AT its limit fills at the limit; 0: rejected
    "volume_cap",          # max buy shares as a fraction of the session volume, 0 = none
    # Exits beyond break/stop/target/time (0 or NaN = off).
    "trailing_stop",       # fraction below the highest close since entry
    "exit_theme_heat",     # exit when the position's theme heat over theme_window is below
    "theme_window",        # sessions summed for theme heat (entry filter and exit), >= 1
    # Entry filters (NaN = off); "previous" = session t - 1 of an entry at session t.
    "boards_mask",         # bit (1 << rules.BOARD_*) set = board allowed
    "exclude_st",          # 1: skip ST stocks
    "min_price", "max_price",            # reference previous close
    "min_amount", "max_amount",          # previous session's amount, CNY
    "min_streak", "max_streak",          # previous session's streak (连板数)
    "min_theme_heat",                    # heat of the mark's theme (window theme_window)
    "dragon_head",         # keep the k marks of a theme with the highest previous streak, 0 off
    "min_open_gap", "max_open_gap",      # open / previous close - 1 at the entry session
    "max_per_theme",       # most positions held at once in one theme, 0 = off
    # Sentiment gate on the previous session (NaN = off).
    "gate_min_limit_ups", "gate_max_limit_downs", "gate_min_height", "gate_min_promotion_1",
    "gate_min_promotion_2plus", "gate_max_broken_rate",
)
N_PARAMS = len(PARAM_FIELDS)
(P_ENTRY_LIMIT, P_LIMIT_FILL_TOUCHED, P_EXIT_ON_BREAK, P_EXIT_AT_CLOSE, P_STOP_LOSS,
 P_TAKE_PROFIT, P_MAX_HOLD, P_MAX_HOLD_REASON, P_MAX_POSITIONS, P_SKIP_HELD, P_CASH,
 P_POSITION_SIZE, P_FIXED_CASH, P_COMMISSION_RATE, P_COMMISSION_MIN, P_SLIPPAGE_TICKS,
 P_AT_LIMIT_OPEN_FILL, P_VOLUME_CAP, P_TRAILING_STOP, P_EXIT_THEME_HEAT, P_THEME_WINDOW,
 P_BOARDS_MASK, P_EXCLUDE_ST, P_MIN_PRICE, P_MAX_PRICE, P_MIN_AMOUNT, P_MAX_AMOUNT, P_MIN_STREAK,
 P_MAX_STREAK, P_MIN_THEME_HEAT, P_DRAGON_HEAD, P_MIN_OPEN_GAP, P_MAX_OPEN_GAP, P_MAX_PER_THEME,
 P_GATE_MIN_LIMIT_UPS, P_GATE_MAX_LIMIT_DOWNS, P_GATE_MIN_HEIGHT, P_GATE_MIN_PROMOTION_1,
 P_GATE_MIN_PROMOTION_2PLUS, P_GATE_MAX_BROKEN_RATE) = range(N_PARAMS)

# ---------------------------------------------------------------- run statistics
# A small float64 vector the kernel fills alongside the records, so a grid that does not keep
# records still gets trade counts, win rate, fees and rejections.
STAT_FIELDS: tuple[str, ...] = (
    "orders", "fills", "buys", "sells", "round_trips", "wins",
    "gross_profit", "gross_loss", "hold_sessions", "fees",
) + tuple(f"rejected_{REJECT_REASONS[k]}" for k in range(1, N_REJECT)) + tuple(
    f"skipped_{SKIP_REASONS[k]}" for k in range(1, N_SKIP)) + (
    "dividends", "dividend_tax", "bonus_shares")
N_STATS = len(STAT_FIELDS)
# Corporate actions: cash dividends credited, dividend tax charged on sales, new shares credited.
S_DIVIDENDS, S_DIVIDEND_TAX, S_BONUS_SHARES = N_STATS - 3, N_STATS - 2, N_STATS - 1
(S_ORDERS, S_FILLS, S_BUYS, S_SELLS, S_ROUND_TRIPS, S_WINS, S_GROSS_PROFIT, S_GROSS_LOSS,
 S_HOLD_SESSIONS, S_FEES) = range(10)
S_REJECTED0 = 10 - 1  # stats[S_REJECTED0 + reason] counts rejections/expiries by reason
S_SKIPPED0 = S_REJECTED0 + N_REJECT - 1  # stats[S_SKIPPED0 + reason] counts skipped marks

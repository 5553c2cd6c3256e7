"""Engine parameters and the strategy interface.

A strategy is a name, the parameters it reads, and a mapping of those parameters onto the
engine's rule flags (``backtests.core.records.PARAM_FIELDS``). The engine kernel knows rules — enter
at the open or at the limit, exit on a break, a stop, a take-profit, after N sessions — never
strategy names, so a new strategy is a new mapping, not a new branch in the kernel.

``ENGINE_PARAMS`` is the one table of every parameter of the ``[strategy]``, ``[portfolio]``,
``[costs]``, ``[fill]``, ``[filters]`` and ``[gate]`` config sections (a number whose default is
``None`` is off until set): ``name -> (section, type, default, allowed, doc)``
in the one parameter schema of :mod:`backtests.core.params`, whose ``check_value`` validates
every value; a grid may sweep any of these names.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from backtests.core.params import Param

# Board names of the `boards` filter, in rules.BOARD_* order (bit 1 << index when packed).
BOARDS = ("main", "chinext", "star", "bse")

ENGINE_PARAMS: dict[str, Param] = {
    # [strategy]
    "name": ("strategy", str, "theme_hype", ("theme_hype", "hold_n"),
             "strategy: theme_hype (enter marks, exit on break/stop/take-profit/max_hold) "
             "or hold_n (enter marks, exit after `hold` sessions)"),
    "entry": ("strategy", str, "open", ("open", "limit"),
              "open: buy at the marked session's open; limit: 打板, queue at limit-up in a "
              "session that touches it"),
    "limit_fill": ("strategy", str, "broken", ("broken", "touched"),
                   "entry=limit: fill only if the board broke (close < limit-up), or "
                   "whenever touched"),
    "exit_on_break": ("strategy", bool, True, None,
                      "exit on the first close after entry that is not a limit-up close (断板)"),
    "exit_at": ("strategy", str, "next_open", ("next_open", "close"),
                "every exit sells at the next session's open or at the deciding close"),
    "stop_loss": ("strategy", float, 0.0, (0.0, 1.0),
                  "exit when close <= entry price x (1 - stop_loss); 0 disables"),
    "take_profit": ("strategy", float, 0.0, (0.0, None),
                    "exit when close >= entry price x (1 + take_profit); 0 disables"),
    "max_hold": ("strategy", int, 0, (0, None),
                 "exit once this many sessions have passed since the entry session; 0 disables"),
    "max_positions": ("strategy", int, 10, (1, None),
                      "most positions held at once; further entries are rejected max_positions"),
    "skip_held": ("strategy", bool, True, None,
                  "ignore a mark on a stock already held (false: buy more of it)"),
    "hold": ("strategy", int, None, (1, None),
             "hold_n: sessions after the entry session before the exit (required)"),
    # [portfolio]
    "cash": ("portfolio", float, 1_000_000.0, (0.01, None), "starting cash, CNY (at least a cent)"),
    "position_size": ("portfolio", float, 0.1, (0.0, 1.0),
                      "fraction of the previous session's equity per entry"),
    "fixed_cash": ("portfolio", float, 0.0, (0.0, None),
                   "CNY per entry when > 0, instead of position_size"),
    # [costs]
    "commission_rate": ("costs", float, 0.00025, (0.0, 0.01),
                        "broker commission as a fraction of value, both sides"),
    "commission_min": ("costs", float, 5.0, (0.0, None), "minimum commission per order, CNY"),
    "slippage_ticks": ("costs", int, 0, (0, None),
                       "buys pay +ticks x 0.01, sells get -ticks x 0.01, clamped to [low, high]"),
    # [fill]
    "at_limit_open": ("fill", str, "fill", ("fill", "reject"),
                      "an order whose session opened AT its limit but traded away from it: "
                      "fill at the limit price or reject"),
    "volume_cap": ("fill", float, 0.0, (0.0, 1.0),
                   "max buy shares as a fraction of the session's volume; 0 = no cap"),
    # [strategy] exits beyond break/stop/target/time (theme_hype)
    "trailing_stop": ("strategy", float, 0.0, (0.0, 1.0),
                      "exit when close <= the highest close since entry x (1 - trailing_stop); "
                      "0 disables"),
    "exit_theme_heat": ("strategy", float, None, (0.0, None),
                        "exit when the heat of the position's theme (summed over theme_window "
                        "sessions) falls below this; unset = off"),
    # [filters]: checked per mark at the entry session t from session t - 1 and the open of t
    "boards": ("filters", list, BOARDS, BOARDS, "boards whose stocks may be entered"),
    "exclude_st": ("filters", bool, False, None, "skip marks on ST stocks"),
    "min_price": ("filters", float, None, (0.0, None),
                  "skip when the previous close is below this (CNY); unset = off"),
    "max_price": ("filters", float, None, (0.0, None),
                  "skip when the previous close is above this (CNY); unset = off"),
    "min_amount": ("filters", float, None, (0.0, None),
                   "skip when the previous session's amount is below this (CNY); unset = off"),
    "max_amount": ("filters", float, None, (0.0, None),
                   "skip when the previous session's amount is above this (CNY); unset = off"),
    "min_streak": ("filters", int, None, (0, None),
                   "skip when the previous session's streak (连板数) is below this; unset = off"),
    "max_streak": ("filters", int, None, (0, None),
                   "skip when the previous session's streak is above this; unset = off"),
    "min_theme_heat": ("filters", float, None, (0.0, None),
                       "skip when the heat of the mark's theme (summed over theme_window "
                       "sessions up to the entry session) is below this; unset = off"),
    "theme_window": ("filters", int, 1, (1, None),
                     "sessions summed for theme heat (min_theme_heat and exit_theme_heat)"),
    "dragon_head": ("filters", int, 0, (0, None),
                    "龙头: per theme and session keep the k marks with the highest previous "
                    "streak (ties: higher score, then lower code); 0 = off"),
    "min_open_gap": ("filters", float, None, (-1.0, None),
                     "skip when open / previous close - 1 at the entry session is below this; "
                     "unset = off"),
    "max_open_gap": ("filters", float, None, (-1.0, None),
                     "skip when open / previous close - 1 at the entry session is above this; "
                     "unset = off"),
    "max_per_theme": ("filters", int, 0, (0, None),
                      "most positions held at once in one theme; 0 = off"),
    # [gate]: the previous session's mood; a failing gate skips every mark of the session
    "min_limit_ups": ("gate", int, None, (0, None),
                      "limit-up closes (non-ST) at the previous session at least; unset = off"),
    "max_limit_downs": ("gate", int, None, (0, None),
                        "limit-down closes (non-ST) at the previous session at most; "
                        "unset = off"),
    "min_height": ("gate", int, None, (0, None),
                   "连板高度 (highest streak, non-ST) at the previous session at least; "
                   "unset = off"),
    "min_promotion_1": ("gate", float, None, (0.0, 1.0),
                        "晋级率 of first boards (share of the session before's first boards "
                        "that sealed again) at the previous session at least; unset = off"),
    "min_promotion_2plus": ("gate", float, None, (0.0, 1.0),
                            "晋级率 of streaks >= 2 at the previous session at least; "
                            "unset = off"),
    "max_broken_rate": ("gate", float, None, (0.0, 1.0),
                        "炸板率 (touched-but-broken / touched) at the previous session at most; "
                        "unset = off"),
}

# Keys a resolved config.toml carries only when they differ from their default: runs that use
# no filter, gate or new exit keep the config.toml (and every other output) they had before
# these keys existed.
WRITTEN_WHEN_SET = frozenset(
    ["trailing_stop", "exit_theme_heat"]
    + [k for k, spec in ENGINE_PARAMS.items() if spec[0] in ("filters", "gate")])

# Packed field of each threshold whose default None (off) packs as NaN.
OFF_FIELDS = {"exit_theme_heat": "exit_theme_heat", "min_price": "min_price",
              "max_price": "max_price", "min_amount": "min_amount", "max_amount": "max_amount",
              "min_streak": "min_streak", "max_streak": "max_streak",
              "min_theme_heat": "min_theme_heat", "min_open_gap": "min_open_gap",
              "max_open_gap": "max_open_gap", "min_limit_ups": "gate_min_limit_ups",
              "max_limit_downs": "gate_max_limit_downs", "min_height": "gate_min_height",
              "min_promotion_1": "gate_min_promotion_1",
              "min_promotion_2plus": "gate_min_promotion_2plus",
              "max_broken_rate": "gate_max_broken_rate"}


class Strategy(ABC):
    """Base class of a strategy: a name, the ``[strategy]`` parameters it reads (``uses``),
    the ones that have no usable default (``required``), and :meth:`kernel_flags`, which maps
    those parameters onto the strategy fields of the packed kernel row.

    The ``[portfolio]``, ``[costs]`` and ``[fill]`` parameters apply to every strategy and are
    packed by :func:`strategies.pack_params`.
    """
    name: ClassVar[str] = ""
    uses: ClassVar[tuple[str, ...]] = ()
    required: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def kernel_flags(self, params: dict[str, Any]) -> dict[str, float]:
        """Values of the strategy fields of ``PARAM_FIELDS`` (``entry_limit`` ...
        ``skip_held``) for a resolved parameter dict."""

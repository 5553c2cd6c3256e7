"""Engine parameters and the strategy interface.

A strategy is a name, the parameters it reads, and a mapping of those parameters onto the
engine's rule flags (``backtests.core.records.PARAM_FIELDS``). The engine kernel knows rules — enter
at the open or at the limit, exit on a break, a stop, a take-profit, after N sessions — never
strategy names, so a new strategy is a new mapping, not a new branch in the kernel.

``ENGINE_PARAMS`` is the one table of every parameter of the ``[strategy]``, ``[portfolio]``,
``[costs]`` and ``[fill]`` config sections: ``name -> (section, type, default, allowed, doc)``
in the one parameter schema of :mod:`backtests.core.params`, whose ``check_value`` validates
every value; a grid may sweep any of these names.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from backtests.core.params import Param

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
}


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

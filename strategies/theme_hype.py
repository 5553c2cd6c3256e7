"""``theme_hype``: buy the stocks marked for a session, ride the limit-up streak, exit on the break.

Entry at the marked session's open (``entry = "open"``) or as a queue at the limit-up price
(``entry = "limit"``, 打板) filled per ``limit_fill``. Exits, evaluated on each close, first match
wins: stop loss, take profit, trailing stop (from the highest close since entry), break (the
first close that is not a limit-up close, 断板), theme cooling (``exit_theme_heat``), a user exit
signal, ``max_hold`` sessions. Every exit sells the whole position at ``exit_at``.
"""
from __future__ import annotations

from typing import Any

from backtests.core.records import EXIT_MAX_HOLD
from strategies.base import Strategy


class ThemeHype(Strategy):
    """The theme-hype (题材炒作) strategy; see the module docstring."""
    name = "theme_hype"
    uses = ("entry", "limit_fill", "exit_on_break", "exit_at", "stop_loss", "take_profit",
            "max_hold", "max_positions", "skip_held", "trailing_stop", "exit_theme_heat")
    required = ()

    def kernel_flags(self, params: dict[str, Any]) -> dict[str, float]:
        return {
            "entry_limit": float(params["entry"] == "limit"),
            "limit_fill_touched": float(params["limit_fill"] == "touched"),
            "exit_on_break": float(params["exit_on_break"]),
            "exit_at_close": float(params["exit_at"] == "close"),
            "stop_loss": float(params["stop_loss"]),
            "take_profit": float(params["take_profit"]),
            "max_hold": float(params["max_hold"]),
            "max_hold_reason": float(EXIT_MAX_HOLD),
            "max_positions": float(params["max_positions"]),
            "skip_held": float(params["skip_held"]),
            "trailing_stop": float(params["trailing_stop"]),
        }

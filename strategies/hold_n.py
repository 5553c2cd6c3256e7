"""``hold_n``: buy the stocks marked for a session at its open, sell ``hold`` sessions later.

No break, stop or take-profit exits: the only exit is time, recorded with reason ``hold_n``.
Exists to keep the strategy interface honest — it is the same kernel with other flags.
"""
from __future__ import annotations

from typing import Any

from backtests.core.records import EXIT_HOLD_N
from strategies.base import Strategy


class HoldN(Strategy):
    """Hold each entry for ``hold`` sessions after the entry session, then exit at ``exit_at``."""
    name = "hold_n"
    uses = ("hold", "exit_at", "max_positions", "skip_held")
    required = ("hold",)

    def kernel_flags(self, params: dict[str, Any]) -> dict[str, float]:
        return {
            "entry_limit": 0.0,
            "limit_fill_touched": 0.0,
            "exit_on_break": 0.0,
            "exit_at_close": float(params["exit_at"] == "close"),
            "stop_loss": 0.0,
            "take_profit": 0.0,
            "max_hold": float(params["hold"]),
            "max_hold_reason": float(EXIT_HOLD_N),
            "max_positions": float(params["max_positions"]),
            "skip_held": float(params["skip_held"]),
            "trailing_stop": 0.0,
        }

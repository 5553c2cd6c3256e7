"""Strategies: parameter definitions and their mapping onto the engine's rule flags.

>>> from strategies import pack_params
>>> row = pack_params({"name": "hold_n", "hold": 3})      # float64 [N_PARAMS]

``STRATEGIES`` maps a name to its :class:`~strategies.base.Strategy`; ``ENGINE_PARAMS`` is the
table of every engine parameter (see :mod:`strategies.base`). :func:`resolve_params` validates a
flat parameter dict and fills defaults; :func:`pack_params` turns it into the kernel's row and
:func:`pack_grid` stacks many such rows for a grid.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from backtests.core.errors import ConfigError
from backtests.core.params import check_param as check_in
from backtests.core.records import N_PARAMS, PARAM_FIELDS
from strategies.base import BOARDS, ENGINE_PARAMS, OFF_FIELDS, Strategy
from strategies.hold_n import HoldN
from strategies.theme_hype import ThemeHype

STRATEGIES: dict[str, Strategy] = {s.name: s for s in (ThemeHype(), HoldN())}

__all__ = ["BOARDS", "ENGINE_PARAMS", "STRATEGIES", "ResolvedParams", "Strategy", "check_param",
           "filters_active", "pack_grid", "pack_params", "resolve_params", "strategy_of"]


class ResolvedParams(dict):
    """A flat parameter dict that :func:`resolve_params` validated and completed; resolving it
    again returns it as it is, so a run resolves its parameters once."""


def check_param(name: str, value: Any) -> Any:
    """Check one engine parameter against ``ENGINE_PARAMS`` with the one validator
    (:func:`backtests.core.params.check_value`); return it normalised."""
    return check_in(ENGINE_PARAMS, name, value)


def strategy_of(params: Mapping[str, Any]) -> Strategy:
    """The strategy named by ``params["name"]`` (default ``theme_hype``)."""
    name = check_param("name", params.get("name", ENGINE_PARAMS["name"][2]))
    return STRATEGIES[name]


def resolve_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a flat parameter dict and return it complete, in ``ENGINE_PARAMS`` order.

    Keys are ``ENGINE_PARAMS`` names (section-free); missing keys take their defaults, so both
    ``{"stop_loss": 0.05}`` and the config loader's complete dict are accepted. Each value is
    checked for type and range. A ``[strategy]`` key the chosen strategy does not use must keep
    its default (so a config or a grid cannot set a parameter that changes nothing), and a
    required one (``hold`` for ``hold_n``) must be given. Raises
    :class:`~backtests.core.errors.ConfigError` naming the key, the value and what is expected.
    A :class:`ResolvedParams` is returned unchanged.
    """
    if isinstance(params, ResolvedParams):
        return params
    strategy = strategy_of(params)
    out: dict[str, Any] = {}
    for key, (section, _typ, default, _allowed, _doc) in ENGINE_PARAMS.items():
        value = params.get(key, default)
        if value is None and default is None:
            out[key] = None
            continue
        value = check_param(key, value)
        if (section == "strategy" and key != "name" and key not in strategy.uses
                and value != default):
            raise ConfigError(f"[strategy] {key} = {value!r} is not a parameter of strategy "
                              f"{strategy.name!r} (it uses: {', '.join(strategy.uses)})")
        out[key] = value
    for key in params:
        if key not in ENGINE_PARAMS:
            check_param(key, params[key])  # raises: unknown parameter, did you mean
    for key in strategy.required:
        if out[key] is None:
            raise ConfigError(f"[strategy] {key} is required by strategy {strategy.name!r} "
                              f"({ENGINE_PARAMS[key][4]})")
    if not out["boards"]:
        raise ConfigError(f"[filters] boards = []: expected at least one of "
                          f"{', '.join(map(repr, BOARDS))}")
    if out["fixed_cash"] <= 0.0 and out["position_size"] <= 0.0:
        raise ConfigError("[portfolio] position_size = 0 and fixed_cash = 0: every entry would "
                          "be empty; set position_size in (0, 1] or fixed_cash > 0")
    return ResolvedParams(out)


def pack_params(params: Mapping[str, Any]) -> np.ndarray:
    """The packed float64 kernel row (layout ``backtests.core.records.PARAM_FIELDS``) of a flat
    parameter dict; validates it with :func:`resolve_params` first."""
    full = resolve_params(params)
    values = dict(STRATEGIES[full["name"]].kernel_flags(full))
    values.update(
        cash=full["cash"],
        position_size=full["position_size"],
        fixed_cash=full["fixed_cash"],
        commission_rate=full["commission_rate"],
        commission_min=full["commission_min"],
        slippage_ticks=full["slippage_ticks"],
        at_limit_open_fill=float(full["at_limit_open"] == "fill"),
        volume_cap=full["volume_cap"],
        theme_window=full["theme_window"],
        boards_mask=sum(1 << BOARDS.index(b) for b in set(full["boards"])),
        exclude_st=float(full["exclude_st"]),
        dragon_head=full["dragon_head"],
        max_per_theme=full["max_per_theme"],
    )
    for key, field in OFF_FIELDS.items():
        values[field] = np.nan if full[key] is None else full[key]
    missing = [f for f in PARAM_FIELDS if f not in values]
    if missing or len(values) != N_PARAMS:
        raise RuntimeError(f"strategy {full['name']!r} does not map kernel fields {missing}")
    return np.array([float(values[f]) for f in PARAM_FIELDS], dtype=np.float64)


def filters_active(params: Mapping[str, Any]) -> bool:
    """True when a resolved parameter dict sets any ``[filters]`` or ``[gate]`` key (then the
    run reports its skipped marks by reason)."""
    return any(params.get(key, spec[2]) != spec[2] for key, spec in ENGINE_PARAMS.items()
               if spec[0] in ("filters", "gate") and key != "theme_window")


def pack_grid(param_sets: Iterable[Mapping[str, Any]]) -> np.ndarray:
    """``[P, N_PARAMS]`` float64 array: one :func:`pack_params` row per parameter set."""
    rows = [pack_params(p) for p in param_sets]
    if not rows:
        return np.empty((0, N_PARAMS), dtype=np.float64)
    return np.vstack(rows)

"""Write a run folder: every output of a backtest rendered in memory, then swapped in whole.

>>> from backtests.data.config import load_config
>>> from backtests.engine.run import run_config
>>> from backtests.report.outputs import write_outputs
>>> cfg = load_config("configs/demo.toml")
>>> write_outputs(run_config(cfg), cfg, "runs/demo")

Every file is rendered before the first write and the folder is replaced as a whole
(:func:`backtests.core.io.atomic_dir`), so an error leaves the previous run folder as it was;
all files are byte-identical across runs (fixed float formats, sorted keys, no timestamps), the
tearsheet included. The formats are in :mod:`backtests.report.run_folder`.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from backtests.core.csv_text import csv_join, day_cells, fixed_cells
from backtests.core.errors import ConfigError
from backtests.core.io import atomic_dir, write_text_atomic
from backtests.data.config import RunConfig, resolved_toml
from backtests.engine.run import default_out_dir, marks_of
from backtests.report.analyses import equal_weight_returns
from backtests.report.metrics import compute_metrics, metrics_json
from backtests.report.mood import mood_csv
from backtests.report.run_folder import (
    OUTPUT_FILES,
    equity_csv,
    credits_csv,
    orders_csv,
    signals_csv,
    trades_csv,
)
from backtests.report.tearsheet import write_tearsheet
from backtests.report.trade_charts import trade_bars_csv
from backtests.study.outputs import run_marks_study


def render_outputs(result, cfg: RunConfig, out_dir: str | os.PathLike, *,
                   marks: pd.DataFrame | None = None) -> dict[str, str]:
    """File name -> text of every output except the tearsheet (rendered from these files);
    ``marks``: the marks frame used (default: rebuilt from ``result.marks``)."""
    bench = equal_weight_returns(result.market)
    return {
        "config.toml": resolved_toml(cfg, relative_to=out_dir),
        "equity.csv": equity_csv(result.equity),
        "trades.csv": trades_csv(result.trades),
        "orders.csv": orders_csv(result.orders),
        "credits.csv": credits_csv(getattr(result, "credits", None)),
        "metrics.json": metrics_json(compute_metrics(result)),
        "signals.csv": signals_csv(marks_of(result) if marks is None else marks),
        "benchmark.csv": csv_join(("date", "return"), [
            day_cells(bench.index), fixed_cells(bench.to_numpy(), 10, empty_nonfinite=False)]),
        "study_marks.csv": run_marks_study(result, marks),
        "trade_bars.csv": trade_bars_csv(result.market, result.trades),
        "mood.csv": mood_csv(result.market, result.params, result.state),
    }


def refuse_own_config(cfg: RunConfig, out: str | os.PathLike) -> None:
    """Refuse an ``out`` folder whose ``config.toml`` is the config file the run started from:
    the run would replace it with the resolved config (the user's comments and layout lost).
    Raises :class:`~backtests.core.errors.ConfigError` naming both."""
    if cfg.source is None:
        return
    written = Path(out) / "config.toml"
    try:
        same = written.exists() and os.path.samefile(written, cfg.source)
    except OSError:
        same = False
    if same:
        raise ConfigError(f"--out {out} holds the config this run was started from "
                          f"({cfg.source}); the run would replace it with the resolved config "
                          f"{written}. Choose another --out, or copy the config out of {out}")


def write_outputs(result, cfg: RunConfig, out_dir: str | os.PathLike | None = None, *,
                  marks: pd.DataFrame | None = None, tearsheet: bool = True) -> Path:
    """Write the run folder (default :func:`default_out_dir`) and return its path.

    ``marks``: the marks frame the run used, with article columns when built from articles
    (default: rebuilt from the result's score array); it becomes ``signals.csv``.
    All texts are rendered before the first write, and the folder is updated all or nothing
    (:func:`backtests.core.io.atomic_dir`): every file, the tearsheet included, is written into a
    hidden staging folder beside ``out_dir``, which then takes the place of the old folder. A
    failure anywhere leaves the previous run folder as it was; a re-run replaces all outputs.
    Files in the folder that hypebt did not write stay in place; a non-empty folder that
    holds no run outputs is refused (``ConfigError``), as is a path that is a file, and an
    ``out_dir`` whose ``config.toml`` is ``cfg``'s own file (:func:`refuse_own_config`).
    """
    out = Path(out_dir) if out_dir is not None else default_out_dir(cfg)
    refuse_own_config(cfg, out)
    texts = render_outputs(result, cfg, out, marks=marks)
    # config.toml alone does not make a folder a run folder: it may be the user's own config.
    with atomic_dir(out, owned=OUTPUT_FILES, markers=set(OUTPUT_FILES) - {"config.toml"},
                    what="run folder") as stage:
        for name, text in texts.items():
            write_text_atomic(stage / name, text)
        if tearsheet:
            write_tearsheet(stage)
    return out

"""Per-group summaries of an event study: count, mean, median, hit rate, t-statistic and a
seeded bootstrap 95% interval of each cumulative abnormal return at every horizon.

Groups are the values of one dimension (``role``, ``board``, …, see
:data:`backtests.study.events.DIMENSIONS`) or of a pair (``role+board``); ``all`` is every
mark. A group with fewer than ``min_count`` marks with a value is flagged ``thin`` — shown, not
hidden. The groups are whatever the marks contain: none was chosen in advance of seeing the
returns, and with many groups some will look significant by chance.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from backtests.core.errors import ConfigError, did_you_mean
from backtests.study.events import DIMENSIONS, MEASURES, Events
from backtests.study.nb import boot_counts_nb, column_quantiles_nb, group_stats_nb

SUMMARY_MEASURES = ("car_open", "car_close", "carb_open", "carb_close")
"""The measures summarised (see :mod:`backtests.study.events`)."""

STAT_NAMES = ("count", "mean", "median", "hit_rate", "t_stat")
SUMMARY_COLUMNS = ("group", "value", "measure", "horizon", "count", "mean", "median",
                   "hit_rate", "t_stat", "ci_low", "ci_high", "thin")
DEFAULT_BY = ("role", "theme", "board", "first_mention", "streak", "publication", "fill")
MIN_COUNT = 30
N_BOOT = 1000
BOOT_BLOCK = 4_000_000
"""Largest bootstrap count matrix built at once (resamples x marks), 16 MB."""


def bootstrap_interval(values: np.ndarray, *, n_boot: int, seed: int, key: int,
                       level: float = 0.95) -> np.ndarray:
    """``[2, K]`` percentile interval (numpy's linear quantiles) of the mean of each column of
    ``values[n, K]`` (NaN = no value, skipped in a resample's mean) over ``n_boot`` resamples of
    the rows with replacement, drawn by :func:`~backtests.study.nb.boot_counts_nb` from
    ``(seed, key)``. Each block of resamples is one matrix product of counts and values, in
    float32: counts are exact, and the error of a float32 sum of returns (about 1e-7 of the
    sum of their sizes) is far below the 1e-6 the CSV shows."""
    n, k = values.shape
    if n == 0 or n_boot <= 0:
        return np.full((2, k), np.nan)
    finite = np.isfinite(values)
    x = np.where(finite, values, 0.0).astype(np.float32)
    # Columns share a NaN pattern (every horizon of a measure, mostly): count each pattern once.
    packed = np.packbits(finite, axis=0)
    first_of: dict[bytes, int] = {}
    inverse = np.array([first_of.setdefault(packed[:, c].tobytes(), len(first_of))
                        for c in range(k)], dtype=np.int64)
    cols = np.zeros(len(first_of), dtype=np.int64)
    cols[inverse[::-1]] = np.arange(k)[::-1]
    pattern = finite[:, cols].astype(np.float32)
    means = np.empty((n_boot, k))
    step = max(1, BOOT_BLOCK // n)
    for first in range(0, n_boot, step):
        rows = min(step, n_boot - first)
        w = boot_counts_nb(n, first, rows, seed, key)
        with np.errstate(invalid="ignore", divide="ignore"):
            means[first:first + rows] = ((w @ x).astype(np.float64)
                                         / (w @ pattern).astype(np.float64)[:, inverse])
    tail = (1.0 - level) / 2.0
    return column_quantiles_nb(means, tail, 1.0 - tail)


def parse_by(spec) -> tuple[tuple[str, ...], ...]:
    """Dimensions to group by from ``"role,board,role+board"`` (or a list of such strings):
    each item one dimension or a pair joined by ``+``."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[tuple[str, ...]] = []
    for item in items:
        parts = tuple(p.strip() for p in str(item).split("+"))
        if not str(item).strip():
            raise ConfigError(f"--by {spec!r}: empty item; expected names like role,board,"
                              f"role+board")
        if len(parts) > 2:
            raise ConfigError(f"--by item {item!r}: at most a pair (two names joined by +)")
        for p in parts:
            if p not in DIMENSIONS:
                raise ConfigError(f"--by: unknown group {p!r}{did_you_mean(p, DIMENSIONS)}; "
                                  f"known: {', '.join(DIMENSIONS)}")
        if len(parts) == 2 and parts[0] == parts[1]:
            raise ConfigError(f"--by item {item!r}: a pair needs two different names")
        if parts not in out:
            out.append(parts)
    return tuple(out)


def group_index(frame: pd.DataFrame, by: tuple[tuple[str, ...], ...]):
    """``(labels, order, starts)``: the groups in output order — ``all`` first, then each
    dimension's values sorted — as ``(group, value)`` labels, the marks sorted by group and the
    offsets of each group in that order (a mark appears once per dimension)."""
    labels = [("all", "all")]
    orders = [np.arange(len(frame), dtype=np.int64)]
    for dims in by:
        vals = frame[list(dims)].astype(str).agg("|".join, axis=1) if len(dims) > 1 \
            else frame[dims[0]].astype(str)
        codes, uniques = pd.factorize(vals, sort=True)
        order = np.argsort(codes, kind="stable")
        counts = np.bincount(codes, minlength=len(uniques))
        pos = 0
        for u, c in zip(uniques, counts):
            labels.append(("+".join(dims), str(u)))
            orders.append(order[pos:pos + c])
            pos += c
    sizes = np.array([len(o) for o in orders], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return labels, np.concatenate(orders).astype(np.int64), starts


def summarize(events: Events, by=DEFAULT_BY, *, n_boot: int = N_BOOT, seed: int = 0,
              min_count: int = MIN_COUNT, measures=SUMMARY_MEASURES) -> pd.DataFrame:
    """One row per group, measure and horizon (:data:`SUMMARY_COLUMNS`). ``by``: the output of
    :func:`parse_by` or a spec it accepts. ``n_boot`` resamples of the marks (0: no interval),
    ``seed`` makes them reproducible; ``thin`` when ``count < min_count``."""
    if not isinstance(by, tuple) or (by and not isinstance(by[0], tuple)):
        by = parse_by(by)
    if n_boot < 0:
        raise ConfigError(f"bootstrap = {n_boot}: expected 0 (none) or more resamples")
    if min_count < 1:
        raise ConfigError(f"min_count = {min_count}: expected 1 or more")
    labels, order, starts = group_index(events.frame, by)
    k = events.horizon + 1
    cols = [MEASURES.index(m) for m in measures]
    values = np.ascontiguousarray(
        events.paths[:, :, cols].transpose(0, 2, 1).reshape(len(events.frame), len(cols) * k))
    keys = np.arange(len(labels), dtype=np.int64)
    stats = group_stats_nb(values, order, starts)
    ci = np.full((len(labels), 2, values.shape[1]), np.nan)
    for g in range(len(labels)):
        rows = order[starts[g]:starts[g + 1]]
        ci[g] = bootstrap_interval(values[rows], n_boot=int(n_boot), seed=int(seed),
                                   key=int(keys[g]))
    stats = np.concatenate([stats, ci.transpose(0, 2, 1)], axis=2)
    g_n, m_n = len(labels), len(cols)
    stats = stats.reshape(g_n, m_n, k, len(STAT_NAMES) + 2)
    gi, mi, hi = np.meshgrid(np.arange(g_n), np.arange(m_n), np.arange(k), indexing="ij")
    gi, mi, hi = gi.ravel(), mi.ravel(), hi.ravel()
    flat = stats.reshape(-1, len(STAT_NAMES) + 2)
    count = flat[:, 0].astype(np.int64)
    frame = pd.DataFrame({
        "group": pd.Series(np.array([labels[i][0] for i in range(g_n)], dtype=object)[gi],
                           dtype=object),
        "value": pd.Series(np.array([labels[i][1] for i in range(g_n)], dtype=object)[gi],
                           dtype=object),
        "measure": pd.Series(np.asarray(measures, dtype=object)[mi], dtype=object),
        "horizon": hi.astype(np.int64),
        "count": count,
        **{name: flat[:, i] for i, name in enumerate(STAT_NAMES + ("ci_low", "ci_high"))
           if name != "count"},
        "thin": count < min_count,
    })
    return frame

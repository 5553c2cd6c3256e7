"""The market's mood per session, drawn for the tearsheet.

The run folder carries ``mood.csv`` (:func:`mood_csv`): per session of the market, the
limit-up closes (``limit_ups``, ST apart, as the gate counts them), the limit-down closes,
连板高度 (``height``, the highest streak), 晋级率 of the previous session's first boards and of
its 2+ boards (``promotion_1``, ``promotion_2plus``; empty when there were none) and ``gate``:
the sentiment gate's reason when it closed that session for the run's parameters (it reads the
previous session: ``docs/strategies.md``), empty when open or without a gate.
:func:`section_html` draws it as one inline SVG of three panels sharing the dates — limit-ups
and limit-downs, the height, the two promotion rates — with the sessions the gate closed shaded
across all three (hover for the dates and the reason). Text stays SVG text, no script, the same
bytes for the same file.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from backtests.core.records import SKIP_REASONS
from backtests.engine.filters_nb import gate_reasons_nb
from backtests.features.nb import (
    SF_DOWN_TOTAL,
    SF_HEIGHT,
    SF_PROMOTION_1,
    SF_PROMOTION_2PLUS,
    SF_UP_TOTAL,
)
from backtests.features.state import MarketState, market_state
from backtests.report.svg import date_labels, esc, polylines
from strategies import pack_params

MOOD_FILE = "mood.csv"
MOOD_COLUMNS = ("date", "limit_ups", "limit_downs", "height", "promotion_1", "promotion_2plus",
                "gate")
# Panel layout of the chart (pixels).
WIDTH, LEFT, RIGHT, TOP, GAP, BOTTOM = 760, 52, 12, 22, 18, 22
PANELS = (("limit-ups 涨停 / limit-downs 跌停", 130), ("连板高度 height", 80),
          ("晋级率 promotion", 80))
COLORS = {"limit_ups": "#d62728", "limit_downs": "#2ca02c", "height": "#7b3294",
          "promotion_1": "#ff7f0e", "promotion_2plus": "#1f77b4"}


def mood_csv(market, params: dict, state: MarketState | None = None) -> str:
    """``mood.csv`` (:data:`MOOD_COLUMNS`) of ``market`` for a run with the resolved ``params``
    (``state``: its :func:`market_state` to reuse). Rates with four decimals."""
    ms = market_state(market) if state is None else state
    sf = ms.session
    reasons = gate_reasons_nb(sf, pack_params(params))
    names = np.array([SKIP_REASONS[k] for k in range(len(SKIP_REASONS))], dtype=object)
    rate = lambda v: "" if not np.isfinite(v) else f"{v:.4f}"  # noqa: E731
    days = np.asarray(market.sessions, dtype="datetime64[D]").astype(str)
    lines = [",".join(MOOD_COLUMNS)]
    for t in range(sf.shape[0]):
        row = sf[t]
        lines.append(f"{days[t]},{int(row[SF_UP_TOTAL])},{int(row[SF_DOWN_TOTAL])},"
                     f"{int(row[SF_HEIGHT])},{rate(row[SF_PROMOTION_1])},"
                     f"{rate(row[SF_PROMOTION_2PLUS])},{names[reasons[t]]}")
    return "\n".join(lines) + "\n"


def read_mood(path) -> pd.DataFrame:
    """A ``mood.csv`` as a frame (dates as text, rates NaN where empty, ``gate`` "" when open)."""
    frame = pd.read_csv(path, dtype={"date": str, "gate": str}, keep_default_na=False,
                        na_values={"promotion_1": [""], "promotion_2plus": [""]})
    return frame


def _closed_spans(gate: list[str]) -> list[tuple[int, int, str]]:
    """Runs of consecutive sessions closed for the same reason: ``(first, last, reason)``."""
    spans: list[tuple[int, int, str]] = []
    for i, reason in enumerate(gate):
        if not reason:
            continue
        if spans and spans[-1][1] == i - 1 and spans[-1][2] == reason:
            spans[-1] = (spans[-1][0], i, reason)
        else:
            spans.append((i, i, reason))
    return spans


def chart_svg(mood: pd.DataFrame) -> str:
    """The three-panel SVG of a :func:`read_mood` frame (see the module docstring)."""
    n = len(mood)
    dates = list(mood["date"])
    inner = WIDTH - LEFT - RIGHT
    step = inner / max(n, 1)
    x = lambda i: LEFT + step * (i + 0.5)  # noqa: E731
    tops, y0 = [], TOP
    for _title, h in PANELS:
        tops.append(y0)
        y0 += h + GAP
    height = y0 - GAP + BOTTOM
    out = [f'<svg width="{WIDTH}" height="{height}" role="img" aria-label="market mood">']
    gate = [str(g) for g in mood["gate"]]
    for a, b, reason in _closed_spans(gate):
        span = dates[a] if a == b else f"{dates[a]} .. {dates[b]}"
        out.append(f'<rect x="{x(a) - step / 2:.1f}" y="{TOP}" width="{step * (b - a + 1):.1f}" '
                   f'height="{height - TOP - BOTTOM}" fill="#bbbbbb" fill-opacity="0.35">'
                   f'<title>gate closed {esc(span)}: {esc(reason)}</title></rect>')

    def panel(k: int, series: list[tuple[str, np.ndarray]], lo: float, hi: float, fmt) -> None:
        title, h = PANELS[k]
        top = tops[k]
        y = lambda v: top + h * (hi - v) / (hi - lo)  # noqa: E731
        out.append(f'<rect x="{LEFT}" y="{top}" width="{inner}" height="{h}" fill="none" '
                   f'stroke="#ddd"/>')
        out.append(f'<text x="{LEFT}" y="{top - 5}" font-size="11">{esc(title)}</text>')
        for v in (lo, hi):
            out.append(f'<text x="{LEFT - 4}" y="{y(v) + 3:.1f}" text-anchor="end" '
                       f'font-size="9">{fmt(v)}</text>')
        legend_x = WIDTH - RIGHT
        xs = x(np.arange(n, dtype=float))
        for name, values in reversed(series):
            for run in polylines(xs, y(np.asarray(values, dtype=float))):
                out.append(f'<polyline points="{run}" fill="none" '
                           f'stroke="{COLORS[name]}" stroke-width="1.2"/>')
            out.append(f'<text x="{legend_x}" y="{top - 5}" text-anchor="end" font-size="10" '
                       f'fill="{COLORS[name]}">{esc(name)}</text>')
            legend_x -= 9 + 6 * len(name)

    counts = [(c, mood[c].to_numpy(dtype=float)) for c in ("limit_ups", "limit_downs")]
    top_count = max(1.0, max((float(np.nanmax(v)) for _c, v in counts if len(v)), default=1.0))
    panel(0, counts, 0.0, top_count, lambda v: f"{v:.0f}")
    h = mood["height"].to_numpy(dtype=float)
    panel(1, [("height", h)], 0.0, max(1.0, float(np.nanmax(h)) if len(h) else 1.0),
          lambda v: f"{v:.0f}")
    panel(2, [(c, mood[c].to_numpy(dtype=float)) for c in ("promotion_1", "promotion_2plus")],
          0.0, 1.0, lambda v: f"{v:.0%}")
    out += date_labels(dates, x, height - 6)
    out.append("</svg>")
    return "".join(out)


def section_html(run_path) -> str:
    """The tearsheet section "Market mood" (see the module docstring); a note for a run folder
    written before ``mood.csv`` existed."""
    head = '<h2 id="hypebt-mood">Market mood 市场情绪</h2>'
    path = run_path / MOOD_FILE
    if not path.exists():
        return head + f'<p class="note">No {MOOD_FILE} in this run folder.</p>'
    mood = read_mood(path)
    closed = int((mood["gate"].astype(str) != "").sum())
    gate_note = (f"the gate closed {closed} of {len(mood)} sessions (shaded; hover for the "
                 f"reason)" if closed else "the gate closed no session")
    note = (f'<p class="note">Per session: limit-up closes (ST apart) and limit-down closes, '
            f'连板高度 (the highest streak), 晋级率 (the share of the previous session\'s first '
            f'boards, and of its 2+ boards, that closed at limit-up again); '
            f'{esc(gate_note)}. The gate decides a session from the previous one.</p>')
    return head + note + chart_svg(mood)


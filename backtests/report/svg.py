"""Hand-written SVG charts for the report pages: line panels over sessions, return spikes and
horizontal bars.

Text stays SVG ``<text>`` (the reader's browser renders Chinese with its own fonts), there is
no script and no external reference, and the same input gives the same bytes (coordinates
are printed with one decimal). Drawing costs milliseconds and imports nothing heavy, which is
why the tearsheet no longer needs matplotlib or quantstats (``docs/tearsheet.md``).
"""
from __future__ import annotations

import html
import math

import numpy as np

WIDTH, LEFT, RIGHT, TOP, BOTTOM = 760, 56, 12, 22, 22
GRID = "#e5e5e5"
TEXT = "#333"


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """About ``count`` round tick values (steps of 1, 2 or 5 × 10^k) covering ``lo .. hi``."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else [0.0]
    raw = (hi - lo) / max(count, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [round(k * step, 12) for k in range(first, last + 1)]


def polylines(xs: np.ndarray, ys: np.ndarray) -> list[str]:
    """``points`` strings of the runs of finite ``ys`` (a gap at every NaN)."""
    runs, pts = [], []
    for x, y in zip(xs.tolist(), ys.tolist()):
        if math.isfinite(y):
            pts.append(f"{x:.1f},{y:.1f}")
        elif pts:
            runs.append(" ".join(pts))
            pts = []
    if pts:
        runs.append(" ".join(pts))
    return runs


def date_ticks(n: int, count: int = 6) -> list[int]:
    """Indices of about ``count`` evenly spread sessions, first and last included."""
    if n <= 0:
        return []
    return sorted({0, n - 1, *(round(k * (n - 1) / (count - 1)) for k in range(1, count - 1))})


def date_labels(dates: list[str], x, y: float) -> list[str]:
    """Date labels under a panel at :func:`date_ticks` positions (``x``: index -> pixel)."""
    n = len(dates)
    out = []
    for i in date_ticks(n):
        anchor = "start" if i == 0 else "end" if i == n - 1 else "middle"
        out.append(f'<text x="{x(i):.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="9" '
                   f'fill="{TEXT}">{esc(dates[i])}</text>')
    return out


def _frame(title: str, legend: list[tuple[str, str]], top: float, inner: float, h: float,
           ticks: list[float], y, fmt) -> list[str]:
    out = [f'<text x="{LEFT}" y="{top - 6}" font-size="11" fill="{TEXT}">{esc(title)}</text>']
    for v in ticks:
        out.append(f'<line x1="{LEFT}" x2="{LEFT + inner}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                   f'stroke="{"#999" if v == 0 else GRID}" stroke-width="0.8"/>')
        out.append(f'<text x="{LEFT - 4}" y="{y(v) + 3:.1f}" text-anchor="end" font-size="9" '
                   f'fill="{TEXT}">{esc(fmt(v))}</text>')
    legend_x = LEFT + inner
    for label, color in reversed(legend):
        out.append(f'<text x="{legend_x}" y="{top - 6}" text-anchor="end" font-size="10" '
                   f'fill="{color}">{esc(label)}</text>')
        legend_x -= 12 + 6.5 * len(label)
    return out


def _range(arrays: list[np.ndarray], include_zero: bool) -> tuple[float, float]:
    finite = [a[np.isfinite(a)] for a in arrays]
    values = np.concatenate(finite) if finite else np.zeros(0)
    lo = float(values.min()) if len(values) else 0.0
    hi = float(values.max()) if len(values) else 0.0
    if include_zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi <= lo:
        pad = abs(hi) * 0.1 or 0.01
        lo, hi = lo - pad, hi + pad
    return lo, hi


def line_chart(dates: list[str], series: list[tuple[str, np.ndarray, str]], *, title: str,
               fmt, height: int = 170, fill: bool = False, label: str = "chart") -> str:
    """One panel of lines over sessions: ``series`` = (legend, values, colour), the first drawn
    on top; ``fill`` shades the area between the first series and zero (a drawdown)."""
    n = len(dates)
    inner = WIDTH - LEFT - RIGHT
    step = inner / max(n, 1)
    x = lambda i: LEFT + step * (i + 0.5)
    lo, hi = _range([v for _l, v, _c in series], include_zero=True)
    ticks = nice_ticks(lo, hi)
    lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
    y = lambda v: TOP + height * (hi - v) / (hi - lo)
    total = TOP + height + BOTTOM
    out = [f'<svg width="{WIDTH}" height="{total}" role="img" aria-label="{esc(label)}">']
    out += _frame(title, [(lbl, c) for lbl, _v, c in series], TOP, inner, height, ticks, y, fmt)
    xs = x(np.arange(n, dtype=float))
    for k, (_lbl, values, color) in reversed(list(enumerate(series))):
        ys = y(np.asarray(values, dtype=float))
        if fill and k == 0:
            for run in polylines(xs, ys):
                first, last = run.split(" ", 1)[0], run.rsplit(" ", 1)[-1]
                out.append(f'<polygon points="{first.split(",")[0]},{y(0.0):.1f} {run} '
                           f'{last.split(",")[0]},{y(0.0):.1f}" fill="{color}" '
                           f'fill-opacity="0.25" stroke="none"/>')
        for run in polylines(xs, ys):
            out.append(f'<polyline points="{run}" fill="none" stroke="{color}" '
                       f'stroke-width="1.2"/>')
    out += date_labels(dates, x, total - 6)
    out.append("</svg>")
    return "".join(out)


def spike_chart(dates: list[str], values: np.ndarray, *, title: str, fmt, up: str, down: str,
                height: int = 120, label: str = "chart") -> str:
    """One vertical line from zero per session (daily returns): ``up`` colour above zero,
    ``down`` below; one ``<path>`` per colour, so the size grows by a few bytes a session."""
    n = len(dates)
    inner = WIDTH - LEFT - RIGHT
    step = inner / max(n, 1)
    x = lambda i: LEFT + step * (i + 0.5)
    v = np.asarray(values, dtype=float)
    lo, hi = _range([v], include_zero=True)
    ticks = nice_ticks(lo, hi)
    lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
    y = lambda u: TOP + height * (hi - u) / (hi - lo)
    total = TOP + height + BOTTOM
    out = [f'<svg width="{WIDTH}" height="{total}" role="img" aria-label="{esc(label)}">']
    out += _frame(title, [], TOP, inner, height, ticks, y, fmt)
    zero = f"{y(0.0):.1f}"
    width = f"{max(0.6, min(3.0, step * 0.7)):.1f}"
    for color, keep in ((up, v > 0), (down, v < 0)):
        idx = np.flatnonzero(keep & np.isfinite(v))
        if len(idx):
            d = "".join(f"M{x(i):.1f} {zero}V{y(v[i]):.1f}" for i in idx.tolist())
            out.append(f'<path d="{d}" stroke="{color}" stroke-width="{width}" fill="none"/>')
    out += date_labels(dates, x, total - 6)
    out.append("</svg>")
    return "".join(out)


def text_width(text: str, size: float) -> float:
    """Rough width of ``text`` in pixels at font size ``size`` (wide characters count 1 em)."""
    return sum(size if ord(ch) > 0x2E7F else size * 0.58 for ch in text)


def hbar_chart(labels: list[str], values: np.ndarray, *, title: str, fmt, up: str, down: str,
               label: str = "chart") -> str:
    """Horizontal bars from zero, one row per label, top to bottom; ``up`` colour for values
    >= 0, ``down`` below; the value printed at each bar's end."""
    v = np.asarray(values, dtype=float)
    row, size = 18, 10
    left = min(300.0, max(60.0, max((text_width(s, size) for s in labels), default=0.0) + 10))
    inner = WIDTH - left - RIGHT - 110          # room for the value labels on both sides
    lo, hi = _range([v], include_zero=True)
    x = lambda u: left + 50 + inner * (u - lo) / (hi - lo)
    height = TOP + 8 + row * len(labels)
    out = [f'<svg width="{WIDTH}" height="{height}" role="img" aria-label="{esc(label)}">',
           f'<text x="{left}" y="{TOP - 8}" font-size="11" fill="{TEXT}">{esc(title)}</text>',
           (f'<line x1="{x(0.0):.1f}" x2="{x(0.0):.1f}" y1="{TOP - 2}" y2="{height - 4}" '
            f'stroke="#999" stroke-width="0.8"/>')]
    for k, (text, value) in enumerate(zip(labels, v.tolist())):
        top = TOP + row * k
        a, b = sorted((x(0.0), x(value)))
        color = up if value >= 0 else down
        out.append(f'<text x="{left - 6:.1f}" y="{top + 12}" text-anchor="end" '
                   f'font-size="{size}" fill="{TEXT}">{esc(text)}</text>')
        out.append(f'<rect x="{a:.1f}" y="{top + 3}" width="{max(b - a, 0.5):.1f}" height="12" '
                   f'fill="{color}"/>')
        anchor, at = ("start", b + 3) if value >= 0 else ("end", a - 3)
        out.append(f'<text x="{at:.1f}" y="{top + 12}" text-anchor="{anchor}" font-size="9" '
                   f'fill="{TEXT}">{esc(fmt(value))}</text>')
    out.append("</svg>")
    return "".join(out)

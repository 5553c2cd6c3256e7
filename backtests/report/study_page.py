"""``study.html``: one self-contained page of an event study — what the marks did.

Top to bottom: the sample (marks, sessions, groups computed) and the honesty note; fillability
at the entry open (bars, overall and per board); per grouping, the mean cumulative abnormal
return from the entry open against the equal-weight market at horizons 0..H, one line per
group with its bootstrap 95% band; the summary table at a few horizons. Charts are inline SVG
drawn here (text stays text, so the reader's fonts render Chinese); no script, no external
fetch; the bytes depend only on the inputs.
"""
from __future__ import annotations

import html

import numpy as np
import pandas as pd

from backtests.study.events import Events
from backtests.study.nb import FILL_NAMES
from backtests.study.outputs import study_csv, summary_csv

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#17becf")
FILL_COLORS = {"buyable": "#2ca02c", "opened_at_limit": "#ff7f0e", "sealed": "#d62728",
               "suspended": "#7f7f7f"}
MAX_LINES = len(PALETTE)
CHART_MEASURES = (("car_open", "from the entry open (fillable marks)"),
                  ("car_close", "from the previous close (every mark)"))
TABLE_MEASURES = ("car_open", "car_close")

_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",
sans-serif;margin:24px;color:#222;max-width:1240px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px}h3{font-size:15px;margin:16px 0 4px}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}
td.n{text-align:right;font-variant-numeric:tabular-nums}tr.thin td{color:#999}
.note{color:#555;font-size:13px}.warn{background:#fff3cd;padding:6px 10px}
svg text{font-size:11px;fill:#333}.scroll{max-height:640px;overflow:auto}
.pair{display:flex;flex-wrap:wrap;gap:12px}.pair figure{margin:0}
figcaption{font-size:12px;color:#555}
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _pct(x, digits: int = 2) -> str:
    return "" if x is None or not np.isfinite(x) else f"{x * 100:+.{digits}f}%"


def _f(x, fmt: str) -> str:
    return "" if x is None or not np.isfinite(x) else format(float(x) + 0.0, fmt)


def _fill_bars(frame: pd.DataFrame) -> str:
    """Stacked horizontal bars of the fill states: all marks, then each board."""
    rows = [("all marks", frame["fill"])]
    for board in sorted(frame["board"].unique()):
        rows.append((board, frame.loc[frame["board"] == board, "fill"]))
    width, left, bar_h, gap = 760, 120, 22, 8
    height = len(rows) * (bar_h + gap) + 30
    parts = [f'<svg width="{width + 220}" '
             f'height="{height}" role="img" aria-label="fillability at the entry open">']
    for i, (label, fills) in enumerate(rows):
        y = i * (bar_h + gap)
        n = len(fills)
        parts.append(f'<text x="0" y="{y + 15}">{_e(label)} (n={n})</text>')
        x = float(left)
        counts = fills.value_counts()
        for state in FILL_NAMES:
            c = int(counts.get(state, 0))
            if n == 0 or c == 0:
                continue
            w = width * c / n
            parts.append(f'<rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="{bar_h}" '
                         f'fill="{FILL_COLORS[state]}"><title>{state}: {c} of {n}</title></rect>')
            if w > 60:
                parts.append(f'<text x="{x + 4:.2f}" y="{y + 15}" style="fill:#fff">'
                             f'{state} {c / n * 100:.0f}%</text>')
            x += w
    y = len(rows) * (bar_h + gap) + 12
    x = left
    for state in FILL_NAMES:
        parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" '
                     f'fill="{FILL_COLORS[state]}"/><text x="{x + 14}" y="{y}">{state}</text>')
        x += 150
    parts.append("</svg>")
    return "".join(parts)


def _car_chart(sub: pd.DataFrame, horizon: int, title: str) -> str:
    """Mean CAR per group (lines) with bootstrap bands, horizons 0..H."""
    groups = list(dict.fromkeys(sub["value"]))
    w, h, ml, mr, mt, mb = 550, 260, 52, 170, 20, 36
    vals = sub[["mean", "ci_low", "ci_high"]].to_numpy(dtype=float)
    finite = vals[np.isfinite(vals)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-0.01, 0.01)
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.01, hi + 0.01
    pad = (hi - lo) * 0.05
    lo, hi = lo - pad, hi + pad
    xs = lambda k: ml + (w - ml - mr) * (k / max(horizon, 1))  # noqa: E731
    ys = lambda v: mt + (h - mt - mb) * (hi - v) / (hi - lo)    # noqa: E731
    out = [f'<svg width="{w}" height="{h}" role="img" '
           f'aria-label="{_e(title)}">',
           f'<rect x="{ml}" y="{mt}" width="{w - ml - mr}" height="{h - mt - mb}" '
           f'fill="none" stroke="#ccc"/>']
    for v in np.linspace(lo + pad, hi - pad, 5):
        out.append(f'<line x1="{ml}" x2="{w - mr}" y1="{ys(v):.2f}" y2="{ys(v):.2f}" '
                   f'stroke="#eee"/><text x="{ml - 4}" y="{ys(v) + 4:.2f}" '
                   f'text-anchor="end">{v * 100:.1f}%</text>')
    out.append(f'<line x1="{ml}" x2="{w - mr}" y1="{ys(0.0):.2f}" y2="{ys(0.0):.2f}" '
               f'stroke="#888"/>')
    for k in sorted(set(np.linspace(0, horizon, min(horizon, 10) + 1).round().astype(int))):
        out.append(f'<text x="{xs(k):.2f}" y="{h - mb + 14}" text-anchor="middle">{k}</text>')
    out.append(f'<text x="{(ml + w - mr) / 2:.2f}" y="{h - 4}" text-anchor="middle">'
               f'sessions after the mark (0 = the entry session\'s close)</text>')
    for i, g in enumerate(groups):
        rows = sub[sub["value"] == g].sort_values("horizon")
        color = PALETTE[i % len(PALETTE)]
        k = rows["horizon"].to_numpy()
        m = rows["mean"].to_numpy(dtype=float)
        a, b = rows["ci_low"].to_numpy(dtype=float), rows["ci_high"].to_numpy(dtype=float)
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() > 1:
            top = " ".join(f"{xs(x):.2f},{ys(y):.2f}" for x, y in zip(k[ok], b[ok]))
            bot = " ".join(f"{xs(x):.2f},{ys(y):.2f}" for x, y in zip(k[ok][::-1], a[ok][::-1]))
            out.append(f'<polygon points="{top} {bot}" fill="{color}" fill-opacity="0.12" '
                       f'stroke="none"/>')
        okm = np.isfinite(m)
        if okm.any():
            pts = " ".join(f"{xs(x):.2f},{ys(y):.2f}" for x, y in zip(k[okm], m[okm]))
            thin = bool(rows["thin"].iloc[0])
            dash = ' stroke-dasharray="4 3"' if thin else ""
            out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" '
                       f'stroke-width="2"{dash}><title>{_e(g)}</title></polyline>')
        n = int(rows["count"].max()) if len(rows) else 0
        label = f"{g} (n={n}{', thin' if bool(rows['thin'].iloc[0]) else ''})"
        out.append(f'<rect x="{w - mr + 10}" y="{mt + i * 18}" width="10" height="10" '
                   f'fill="{color}"/><text x="{w - mr + 24}" y="{mt + i * 18 + 9}">'
                   f'{_e(label)}</text>')
    out.append("</svg>")
    return "".join(out)


def _table(summary: pd.DataFrame, horizons: list[int]) -> str:
    sub = summary[summary["measure"].isin(TABLE_MEASURES) & summary["horizon"].isin(horizons)]
    head = ("<tr><th>group</th><th>value</th><th>measure</th><th>h</th><th>count</th>"
            "<th>mean</th><th>median</th><th>hit rate</th><th>t</th><th>95% interval</th>"
            "<th>thin</th></tr>")
    rows = []
    for r in sub.itertuples(index=False):
        cls = ' class="thin"' if r.thin else ""
        ci = (f"{_pct(r.ci_low)} .. {_pct(r.ci_high)}"
              if np.isfinite(r.ci_low) and np.isfinite(r.ci_high) else "")
        rows.append(
            f"<tr{cls}><td>{_e(r.group)}</td><td>{_e(r.value)}</td><td>{_e(r.measure)}</td>"
            f'<td class="n">{r.horizon}</td><td class="n">{r.count}</td>'
            f'<td class="n">{_pct(r.mean)}</td><td class="n">{_pct(r.median)}</td>'
            f'<td class="n">{_f(r.hit_rate * 100 if np.isfinite(r.hit_rate) else np.nan, ".1f")}'
            f'{"%" if np.isfinite(r.hit_rate) else ""}</td>'
            f'<td class="n">{_f(r.t_stat, ".2f")}</td><td class="n">{ci}</td>'
            f'<td>{"thin" if r.thin else ""}</td></tr>')
    return f'<div class="scroll"><table>{head}{"".join(rows)}</table></div>'


def render_study_page(events: Events, summary: pd.DataFrame, *, title: str,
                      synthetic: bool = False, n_boot: int = 0, seed: int = 0,
                      min_count: int = 30, notes: tuple[str, ...] = ()) -> str:
    """The HTML text of ``study.html`` (see the module docstring)."""
    f = events.frame
    H = events.horizon
    n = len(f)
    groups = summary[["group", "value"]].drop_duplicates()
    n_groups = len(groups) - 1
    n_thin = int(summary.loc[summary["horizon"] == 0].drop_duplicates(["group", "value"])
                 ["thin"].sum())
    days = f["date"]
    span = (f"{days.min():%Y-%m-%d} .. {days.max():%Y-%m-%d}" if n else "no marks")
    fills = f["fill"].value_counts()
    buyable = f["fill"].isin(("buyable", "opened_at_limit"))
    paid = f.loc[buyable, "paid"].to_numpy(dtype=float)
    paid = paid[np.isfinite(paid)]
    parts = [f"<h1>{_e(title)} — what the marks did</h1>"]
    if synthetic:
        parts.append('<p class="warn"><b>SYNTHETIC demo data</b>: the companies and prices '
                     'are generated.</p>')
    parts.append(
        f'<p class="warn"><b>Sample</b>: {n} marks on {f["date"].nunique()} sessions '
        f'({span}), {f["code"].nunique()} stocks; horizon {H} sessions. '
        f'<b>The groups were not chosen in advance</b>: they are every value the marks carry, '
        f'{n_groups} groups in all ({n_thin} thin, fewer than {min_count} marks, drawn dashed '
        f'and greyed), each at {H + 1} horizons and 4 measures — some will look significant by '
        f'chance. Forward returns appear only in this study, never in marks or decisions.</p>')
    parts.append(
        '<p class="note">CAR (cumulative abnormal return) at horizon h: the stock\'s return to '
        'the close of session t+h minus the equal-weight market\'s (car_*) or its board\'s '
        '(carb_*) compounded over the same window. <i>car_open</i> starts at the entry open '
        'and counts only marks fillable there; <i>car_close</i> starts at the previous close '
        'and counts every mark. Intervals: percentile bootstrap of the mean, '
        f'{n_boot} resamples of the marks, seed {seed}. A suspended session carries the last '
        'close.</p>')
    for note in notes:
        parts.append(f'<p class="note">{_e(note)}</p>')
    parts.append('<h2 id="fill">Fillability at the entry open</h2>')
    parts.append(
        '<p class="note">' + ", ".join(f"{s} {int(fills.get(s, 0))}" for s in FILL_NAMES)
        + (f"; price paid vs the previous close (fillable marks): median {_pct(float(np.median(paid)))}, "
           f"mean {_pct(float(paid.mean()))}" if paid.size else "") + ".</p>")
    parts.append(_fill_bars(f) if n else '<p class="note">No marks.</p>')
    parts.append('<h2 id="car">Mean CAR against the market by group, with 95% bands</h2>')
    for group in dict.fromkeys(summary["group"]):
        sub_all = summary[summary["group"] == group]
        first = sub_all[(sub_all["measure"] == "car_close") & (sub_all["horizon"] == 0)]
        order = list(first.sort_values(["count", "value"], ascending=[False, True])["value"])
        shown = order[:MAX_LINES]
        parts.append(f"<h3>{_e(group)}</h3>")
        if len(order) > len(shown):
            parts.append(f'<p class="note">The {MAX_LINES} largest of {len(order)} groups; '
                         f'all are in the table and summary.csv.</p>')
        figures = []
        for measure, what in CHART_MEASURES:
            sub = sub_all[(sub_all["measure"] == measure) & sub_all["value"].isin(shown)]
            sub = (sub.assign(_o=sub["value"].map(shown.index))
                   .sort_values(["_o", "horizon"]).drop(columns="_o"))
            figures.append(f"<figure><figcaption>{measure}: {_e(what)}</figcaption>"
                           + _car_chart(sub, H, f"{group}: mean {measure}") + "</figure>")
        parts.append('<div class="pair">' + "".join(figures) + "</div>")
    horizons = sorted({h for h in (0, 1, 2, 5, 10, H) if h <= H})
    parts.append(f'<h2 id="table">Summary at horizons {", ".join(map(str, horizons))}</h2>')
    parts.append('<p class="note">All horizons and the board measures are in summary.csv; '
                 'every mark and horizon in study.csv.</p>')
    parts.append(_table(summary, horizons))
    return ('<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{_e(title)} study</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            + "\n".join(parts) + "\n</body>\n</html>\n")


def study_texts(result, *, title: str, synthetic: bool = False) -> dict[str, str]:
    """File name -> text of the study folder: ``study.csv``, ``summary.csv``, ``study.html``
    of a :class:`~backtests.study.run.StudyResult`."""
    notes = ()
    if result.skipped:
        notes = (f"No mark carries a value for: {', '.join(result.skipped)} (those groupings "
                 f"are left out).",)
    return {
        "study.csv": study_csv(result.events),
        "summary.csv": summary_csv(result.summary),
        "study.html": render_study_page(result.events, result.summary, title=title,
                                        synthetic=synthetic, n_boot=result.n_boot,
                                        seed=result.seed, min_count=result.min_count,
                                        notes=notes),
    }

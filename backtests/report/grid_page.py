"""The grid folder: grid.csv, the heatmap, grid.html and the run folders of the best sets."""
from __future__ import annotations

import html as _html
import math
from pathlib import Path

import numpy as np

from backtests.core.io import atomic_dir, write_bytes_atomic, write_text_atomic
from backtests.engine.backtest import run_backtest
from backtests.grid.results import GridResult, grid_csv, rank_key
from backtests.grid.spec import GRID_OUTPUTS, RETURN_METRICS, set_config
from backtests.report.charts import heatmap_svg_png
from backtests.report.outputs import write_outputs


def _summary_columns(result: GridResult) -> list[str]:
    spec = result.spec
    cols = ["rank", "set"] + list(spec.axes)
    if result.split:
        cols += [f"is_{spec.rank_by}", f"oos_{spec.rank_by}"] if spec.rank_by in RETURN_METRICS \
            else [spec.rank_by]
        cols += ["is_total_return", "oos_total_return"]
    else:
        cols += [spec.rank_by] if spec.rank_by not in ("sharpe", "total_return") else []
        cols += ["sharpe", "total_return"]
    cols += ["max_drawdown", "trades", "win_rate"]
    seen = []
    for c in cols:
        if c not in seen:
            seen.append(c)
    return seen


def summary_text(result: GridResult, n: int = 10) -> str:
    """The ranked summary printed by ``hypebt grid``: the best ``n`` sets."""
    spec = result.spec
    cols = _summary_columns(result)
    top = result.frame.head(n)[cols]
    key = rank_key(spec.rank_by, bool(result.split))
    head = (f"{len(result.frame)} parameter sets (of {spec.total}) ranked by {key}"
            + (f"; in-sample up to {spec.train_end}, out-of-sample after" if result.split else ""))
    cells = [[_short(v) for v in row] for row in top.itertuples(index=False)]
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c)
              for i, c in enumerate(cols)]
    lines = [head, "  ".join(c.rjust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def _short(v) -> str:
    if isinstance(v, (tuple, list)):
        return ";".join(map(str, v))
    if isinstance(v, (float, np.floating)):
        return "nan" if not math.isfinite(v) else f"{float(v):.4f}"
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    return str(v)


def grid_html(result: GridResult, heatmap_svg: str, top_dirs: list[str]) -> str:
    """grid.html: the heatmap and the ranked table (100 best rows), self-contained."""
    spec = result.spec
    cols = list(result.frame.columns)
    body_rows = []
    for row in result.frame.head(100).itertuples(index=False):
        body_rows.append("<tr>" + "".join(f"<td>{_html.escape(_short(v))}</td>" for v in row)
                         + "</tr>")
    head = "".join(f"<th>{_html.escape(c)}</th>" for c in cols)
    links = "".join(f'<li><a href="{_html.escape(d)}/tearsheet.html">{_html.escape(d)}</a></li>'
                    for d in top_dirs)
    key = rank_key(spec.rank_by, bool(result.split))
    split_note = (f"<p>In-sample: sessions up to {spec.train_end}; ranked on {key}. Compare the "
                  f"<b>oos_</b> columns: a set that is only good in-sample is overfitted.</p>"
                  if result.split else "")
    title = _html.escape(f"hypebt grid — {spec.stem}")
    return (
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{title}</title>\n<style>body{{font:13px/1.4 Arial,\"Noto Sans CJK SC\","
        "sans-serif;margin:30px}table{border-collapse:collapse}td,th{padding:3px 6px;"
        "text-align:right;border-bottom:1px solid #eee}th{background:#eee}"
        ".wrap{overflow-x:auto}svg{max-width:100%;height:auto}</style>\n</head>\n<body>\n"
        f"<h1>{title}</h1>\n<p>{len(result.frame)} parameter sets of {spec.total}; swept: "
        f"{_html.escape(', '.join(spec.axes))}.</p>\n{split_note}"
        f"<div id=\"heatmap\">{heatmap_svg}</div>\n"
        + (f"<h2>Run folders of the best sets</h2><ul>{links}</ul>\n" if links else "")
        + f"<h2>Ranked sets</h2>\n<div class=\"wrap\"><table id=\"ranked\"><thead><tr>{head}"
          f"</tr></thead><tbody>\n" + "\n".join(body_rows) + "\n</tbody></table></div>\n"
        "</body>\n</html>\n")


def write_top(result: GridResult, out_dir, k: int) -> list[str]:
    """Full run folders (``run.write_outputs``, tearsheet included) for the best ``k`` sets, in
    ``out_dir/top/NN_setM``; returns the folder paths relative to ``out_dir``."""
    spec = result.spec
    params_of = dict(spec.sets)
    written = []
    for row in result.frame.head(k).itertuples(index=False):
        params = params_of[row.set]
        cfg = set_config(spec, params)
        marks = result.marks[tuple(params[key] for key in spec.signal_axes)]
        res = run_backtest(result.market, marks, cfg.params)
        rel = f"top/{row.rank:02d}_set{row.set}"
        write_outputs(res, cfg, Path(out_dir) / rel, marks=marks)
        written.append(rel)
    return written


def write_grid(result: GridResult, out_dir, *, top: int | None = None) -> dict[str, Path]:
    """Write ``grid.csv``, ``heatmap.png``, ``grid.html`` (and the top run folders) into
    ``out_dir``; returns name -> path. Files are written atomically and are byte-identical for
    the same grid.

    The folder is updated all or nothing (:func:`backtests.core.io.atomic_dir`, as a run folder):
    everything is written into a hidden staging folder beside ``out_dir`` (same depth, so the
    relative paths in the top folders' ``config.toml`` hold), which then takes the place of the
    old folder. A failure leaves the previous outputs untouched, and a re-run replaces them
    whole -- the ``top/`` folders and a ``heatmap.png`` of an earlier grid do not survive next
    to the new ``grid.html``. Other files in ``out_dir`` are carried over; a non-empty folder
    holding none of the grid outputs is refused.
    """
    out = Path(out_dir)
    with atomic_dir(out, owned=GRID_OUTPUTS, what="grid folder") as stage:
        write_text_atomic(stage / "grid.csv", grid_csv(result.frame))
        k = result.spec.top if top is None else top
        top_dirs = write_top(result, stage, k) if k else []
        svg, png = heatmap_svg_png(result)
        if png is not None:
            write_bytes_atomic(stage / "heatmap.png", png)
        write_text_atomic(stage / "grid.html", grid_html(result, svg, top_dirs))
        written = {p.name for p in stage.iterdir()}
    paths = {name: out / name for name in ("grid.csv", "heatmap.png", "grid.html")
             if name in written}
    for d in top_dirs:
        paths[d] = out / d
    return paths

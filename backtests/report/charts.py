"""What hypebt draws with matplotlib (the grid heatmap), and quantstats' HTML report (which
draws with it; appended to the tearsheet only on request). The tearsheet's own charts are
hand-written SVG (:mod:`backtests.report.svg`).

Charts are reproducible (a fixed ``svg.hashsalt``, no SVG metadata) and look the same in every
process (:func:`plain_style` resets whatever other code did to the global rcParams). matplotlib
and quantstats are imported only here, inside the functions that draw, so commands that draw
nothing never load them.
"""
from __future__ import annotations

import contextlib
import io
import logging
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.grid.results import GridResult, fmt_value, heatmap_frame
from backtests.grid.spec import LOWER_IS_BETTER, RETURN_METRICS

# Families searched for Chinese glyphs, best first (Debian: fonts-noto-cjk, fonts-wqy-*).
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC", "Source Han Sans SC",
                "Source Han Sans CN", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei",
                "Microsoft YaHei", "PingFang SC", "Heiti SC", "Droid Sans Fallback",
                "AR PL UMing CN", "Noto Serif CJK SC")
_CJK_FILE_HINTS = ("notosanscjk", "sourcehansans", "wqy", "simhei", "msyh", "pingfang",
                   "droidsansfallback", "uming", "notoserifcjk")

# A fixed salt makes matplotlib's SVG element ids (clip paths, glyph defs) reproducible.
# ``svg.fonttype = none`` keeps chart text as SVG <text>: the reader's browser renders it with its
# own fonts (Chinese included, whatever fonts the machine that drew the page had), and the page
# is smaller than with every glyph drawn as a path.
_RC = {"svg.hashsalt": "hypebt", "svg.fonttype": "none", "figure.max_open_warning": 0}

_cjk_state: dict[str, object] = {}


# ---------------------------------------------------------------- fonts


def cjk_font() -> str | None:
    """Name of a font family with Chinese glyphs registered with matplotlib, or ``None``.

    Looks first among the fonts matplotlib already knows, then in the system font folders
    (matplotlib's font cache may predate a font installed later, e.g. ``apt-get install
    fonts-noto-cjk``) and registers the file it finds. When there is none, warns once:
    Chinese names in charts then show as empty boxes (the HTML text is unaffected, the browser
    picks its own fonts).
    """
    if "name" in _cjk_state:
        return _cjk_state["name"]  # type: ignore[return-value]
    from matplotlib import font_manager as fm  # heavy: only when a chart is drawn

    def known() -> str | None:
        names = {f.name for f in fm.fontManager.ttflist}
        return next((fam for fam in CJK_FAMILIES if fam in names), None)

    name = known()
    if name is None:
        with quiet():
            for path in sorted(fm.findSystemFonts()):
                stem = Path(path).name.lower().replace("-", "").replace("_", "")
                if any(h in stem for h in _CJK_FILE_HINTS):
                    try:
                        fm.fontManager.addfont(path)
                    except (OSError, RuntimeError, ValueError):
                        continue
        name = known()
    if name is None:
        warnings.warn("hypebt: no CJK font found for matplotlib; Chinese names in tearsheet charts "
                      "will show as boxes (Debian/Ubuntu: apt-get install fonts-noto-cjk)",
                      stacklevel=2)
    _cjk_state["name"] = name
    return name


def rc_params() -> dict:
    rc = dict(_RC)
    name = cjk_font()
    # matplotlib >= 3.6 falls back along the family list glyph by glyph.
    rc["font.family"] = ["DejaVu Sans", name] if name else ["DejaVu Sans"]
    return rc


@contextlib.contextmanager
def plain_style():
    """matplotlib's default style plus :data:`_RC` and the CJK fallback, whatever other code
    (quantstats sets a seaborn-like style on import) did to the global rcParams; restored on
    exit. Charts drawn inside look the same in every process."""
    import matplotlib as mpl  # heavy: only when a chart is drawn

    rc = rc_params()
    with mpl.rc_context():
        mpl.rcdefaults()
        mpl.rcParams.update(rc)
        yield


@contextlib.contextmanager
def quiet():
    """Capture warnings, matplotlib font-manager log lines and stray prints of plotting code."""
    logger = logging.getLogger("matplotlib.font_manager")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def strip_svg_noise(text: str) -> str:
    """``text`` without XML prologs, DOCTYPEs, SVG metadata or namespace URLs."""
    text = re.sub(r"<\?xml[^>]*\?>", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>", "", text)
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    return re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)


def clean_svg(svg: str) -> str:
    """Inline-ready SVG without XML prolog, DOCTYPE, metadata or namespace URLs."""
    return strip_svg_noise(svg).strip()


def svg_of(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    return clean_svg(buf.getvalue())


def quantstats_html(returns: pd.Series, bench: pd.Series | None, title: str) -> tuple[str, str]:
    """quantstats' report as (head CSS, body) strings, cleaned of external references."""
    with quiet():
        import matplotlib  # heavy: only when the report is drawn
        import matplotlib.pyplot as plt  # heavy: only when the report is drawn
        import quantstats as qs  # heavy; sets rcParams font.family = Arial on import; rc_context wins

        kwargs = {"benchmark_title": "Equal-weight market"} if bench is not None else {}
        with matplotlib.rc_context(rc_params()), tempfile.TemporaryDirectory(prefix="hypebt-") as tmp:
            out = Path(tmp) / "quantstats.html"
            try:
                qs.reports.html(returns, benchmark=bench, output=str(out), title=title,
                                strategy_title="Strategy", figfmt="svg", match_dates=False,
                                **kwargs)
            finally:
                plt.close("all")
            page = out.read_text(encoding="utf-8")
    style = "\n".join(re.findall(r"<style>(.*?)</style>", page, flags=re.S))
    m = re.search(r"<body[^>]*>(.*)</body>", page, flags=re.S)
    body = m.group(1) if m else ""
    body = re.sub(r"<style>.*?</style>", "", body, flags=re.S)
    body = strip_svg_noise(body)
    body = re.sub(r"<a\s[^>]*>(.*?)</a>", r"\1", body, flags=re.S)  # quantstats.io link
    return style, body


def heatmap_figure(result: GridResult):
    """A matplotlib Figure of the heatmap (two panels, in-sample and out-of-sample, when the
    grid is split), or ``None`` when fewer than two parameters are swept."""
    spec = result.spec
    if spec.heatmap is None:
        return None
    from matplotlib.figure import Figure  # heavy: only when a chart is drawn

    a, b = spec.heatmap
    metrics = ([f"is_{spec.rank_by}", f"oos_{spec.rank_by}"]
               if result.split and spec.rank_by in RETURN_METRICS else [spec.rank_by])
    import matplotlib as mpl  # heavy: only when a chart is drawn

    fig = Figure(figsize=(5.2 * len(metrics) + 0.6, 4.2))
    for i, metric in enumerate(metrics):
        ax = fig.add_subplot(1, len(metrics), i + 1)
        table = heatmap_frame(result.frame, a, b, metric)
        values = table.to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if hi <= lo:
            lo, hi = lo - 1.0, hi + 1.0
        cmap = mpl.colormaps["RdYlGn_r" if spec.rank_by in LOWER_IS_BETTER else "RdYlGn"].copy()
        cmap.set_bad("#e8e8e8")
        ax.grid(False)
        im = ax.imshow(values, cmap=cmap, vmin=lo, vmax=hi, aspect="auto")
        ax.set_xticks(range(len(table.columns)), [fmt_value(v) for v in table.columns])
        ax.set_yticks(range(len(table.index)), [fmt_value(v) for v in table.index])
        ax.set_xlabel(b)
        ax.set_ylabel(a)
        title = metric.replace("is_", "in-sample ").replace("oos_", "out-of-sample ")
        ax.set_title(f"{title} (mean over other parameters)", fontsize=9)
        for (r, c), v in np.ndenumerate(values):
            if np.isfinite(v):
                x = (v - lo) / (hi - lo)
                ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if x < 0.15 or x > 0.85 else "black")
            else:
                ax.text(c, r, "n/a", ha="center", va="center", fontsize=8, color="#666666")
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.text(0.01, 0.01, "n/a: undefined for every set of the cell (e.g. no trade, zero "
             "volatility)", fontsize=7, color="#666666")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig




def heatmap_svg_png(result) -> tuple[str, bytes | None]:
    """The grid heatmap as inline SVG text and PNG bytes (``("", None)`` when fewer than two
    parameters are swept)."""
    with quiet(), plain_style():
        fig = heatmap_figure(result)
        if fig is None:
            return "", None
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
        sbuf = io.StringIO()
        fig.savefig(sbuf, format="svg", metadata={"Date": None, "Creator": None})
        return clean_svg(sbuf.getvalue()), buf.getvalue()

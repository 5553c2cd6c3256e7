"""``hypebt study CONFIG``: what the marks did — an event study with fillability.

    hypebt study configs/real_doubao_articles.toml --out studies/doubao
    hypebt study configs/demo.toml --horizon 10 --by role,board,role+board

Takes any run config (marks from articles or a marks file, ``[data]`` as for ``backtest``) and
writes ``DIR/study.csv`` (mark x horizon), ``DIR/summary.csv`` (per group, measure and
horizon) and ``DIR/study.html``; prints the sample, the fill states and the all-marks CAR at a
few horizons. Default ``DIR``: ``runs/<config stem>-study``. ``docs/study.md`` has every column.
"""
from __future__ import annotations

from pathlib import Path

from backtests.data.config import load_config
from backtests.engine.run import prepare_run
from backtests.report.study_page import study_texts
from backtests.study import run_study
from backtests.study.outputs import write_study

HELP = "event study of a config's marks: forward returns, abnormal returns, fillability by group"


def add_arguments(p) -> None:
    p.add_argument("config", metavar="CONFIG", help="TOML run config (see docs/config.md)")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="study folder to write (default: runs/<config stem>-study)")
    p.add_argument("--horizon", metavar="H", type=int, default=20,
                   help="sessions after the mark session to follow (default 20)")
    p.add_argument("--by", metavar="GROUPS", default=None,
                   help="groupings, comma-separated, pairs joined by + (role, theme, board, "
                        "first_mention, streak, publication, fill; e.g. role,board,role+board); "
                        "default: every one the marks carry")
    p.add_argument("--bootstrap", metavar="N", type=int, default=1000,
                   help="bootstrap resamples for the 95%% intervals (default 1000; 0 = none)")
    p.add_argument("--seed", metavar="S", type=int, default=0,
                   help="seed of the bootstrap (default 0)")
    p.add_argument("--min-count", metavar="N", type=int, default=30,
                   help="groups with fewer marks are flagged thin (default 30)")


def _pct(x) -> str:
    return "n/a" if x != x else f"{x * 100:+.2f}%"


def summary_lines(res, out: Path) -> list[str]:
    """The printed summary of a study."""
    f = res.events.frame
    s = res.summary
    lines = [f"marks         {len(f)} on {f['date'].nunique()} sessions, {f['code'].nunique()} "
             f"stocks; horizon {res.events.horizon}"]
    counts = f["fill"].value_counts()
    lines.append("entry open    " + ", ".join(f"{k} {int(counts.get(k, 0))}" for k in
                                               ("buyable", "opened_at_limit", "sealed",
                                                "suspended")))
    allr = s[(s["group"] == "all")]
    H = res.events.horizon
    for measure, what in (("car_open", "from the entry open"),
                          ("car_close", "from the previous close")):
        rows = allr[allr["measure"] == measure].set_index("horizon")
        hs = sorted({h for h in (0, 1, 5, H) if h <= H})
        lines.append(f"{measure:<14}" + ", ".join(
            f"h{h} {_pct(rows.loc[h, 'mean'])} (n={int(rows.loc[h, 'count'])})" for h in hs)
            + f"  [{what}, mean vs the market]")
    groups = s[["group", "value"]].drop_duplicates()
    thin = int(s[(s["horizon"] == 0) & (s["measure"] == "car_close") & (s["group"] != "all")]
              ["thin"].sum())
    lines.append(f"groups        {len(groups) - 1} in {len(res.by)} groupings "
                 f"({', '.join('+'.join(b) for b in res.by) or 'none'}); {thin} thin "
                 f"(< {res.min_count} marks)"
                 + (f"; no values for {', '.join(res.skipped)}" if res.skipped else ""))
    lines.append(f"outputs       {out}/ (study.csv summary.csv study.html)")
    return lines


def run(args) -> int:
    cfg = load_config(args.config)
    out = Path(args.out) if args.out else Path("runs") / f"{cfg.stem}-study"
    market, marks = prepare_run(cfg)
    res = run_study(market, marks.frame, horizon=args.horizon, by=args.by,
                    n_boot=args.bootstrap, seed=args.seed, min_count=args.min_count)
    texts = study_texts(res, title=f"hypebt study {Path(args.config).name}",
                        synthetic=bool(market.synthetic))
    write_study(out, texts)
    lines = [f"Study {args.config}"]
    if market.synthetic:
        lines.append("  SYNTHETIC demo market: invented companies and prices, not real data.")
    print("\n".join(lines + ["  " + x for x in summary_lines(res, out)]))
    return 0

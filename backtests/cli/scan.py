"""``hypebt scan``: the limit-up board of a session, or per-session counts over a range.

    hypebt scan --date 2024-12-13 --data PANEL.csv.gz --names NAMES.csv
    hypebt scan --start 2024-12-02 --end 2024-12-31 --summary --data PANEL.csv.gz
    hypebt scan --date 2024-02-27                    # the SYNTHETIC demo market

See ``docs/scan.md`` for the columns, the exact "N天M板" rule and the counting conventions.
"""
from __future__ import annotations

import json
import sys

from backtests.core.errors import ConfigError
from backtests.data.load import load_market
from backtests.features import scan

HELP = 'limit-up board of a session: touched/sealed, streak, "N天M板", counts per board'

FORMATS = ("table", "csv", "json")


def add_arguments(p) -> None:
    p.add_argument("--date", help="session to scan (YYYY-MM-DD or YYYYMMDD)")
    p.add_argument("--data", default="demo",
                   help='panel file (CSV, CSV.GZ, Parquet), store directory, or "demo" '
                        "(default: the SYNTHETIC demo market)")
    p.add_argument("--names", nargs="+", default=None, metavar="FILE",
                   help="names file(s), code,name[,list_date]; the first gives current names")
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default table)")
    p.add_argument("--summary", action="store_true",
                   help="per-session counts for --start..--end instead of one session's board")
    p.add_argument("--start", help="first session of --summary")
    p.add_argument("--end", help="last session of --summary")
    p.add_argument("--max-gap", type=int, default=None, metavar="G",
                   help="most consecutive non-limit-up sessions inside one N天M板 run (default 2)")


def run(args) -> int:
    max_gap = scan.MAX_GAP if args.max_gap is None else args.max_gap
    if max_gap < 0:
        raise ConfigError(f"--max-gap must be >= 0, got {max_gap}")
    if args.summary:
        if args.date:
            raise ConfigError("--summary takes --start and --end, not --date")
        if not (args.start and args.end):
            raise ConfigError("--summary needs both --start and --end (YYYY-MM-DD)")
    elif args.start or args.end:
        raise ConfigError("--start/--end go with --summary; for one session use --date")
    elif not args.date:
        raise ConfigError("give --date D (one session) or --summary --start D1 --end D2")

    market = load_market(args.data, names=args.names)
    out = sys.stdout
    if args.summary:
        frame = scan.scan_summary(market, args.start, args.end, max_gap=max_gap)
        if args.format == "json":
            out.write(json.dumps({"synthetic": bool(market.synthetic), "max_gap": max_gap,
                                  "sessions": scan.records(frame)},
                                 ensure_ascii=False, indent=2) + "\n")
        elif args.format == "csv":
            out.write(scan.format_csv(frame))
        else:
            out.write(_banner(market, f"Limit-up counts per session, {frame['date'].iloc[0]} .. "
                                      f"{frame['date'].iloc[-1]}"))
            out.write(scan.format_table(frame))
        return 0

    result = scan.scan_day(market, args.date, max_gap=max_gap)
    day = str(result.date)
    if args.format == "json":
        counts = {board: {k: int(v) for k, v in row.items()}
                  for board, row in result.counts.to_dict(orient="index").items()}
        out.write(json.dumps({"date": day, "synthetic": bool(market.synthetic),
                              "max_gap": max_gap, "stocks": scan.records(result.stocks),
                              "counts": counts}, ensure_ascii=False, indent=2) + "\n")
        return 0
    if args.format == "csv":
        out.write(scan.format_csv(result.stocks))
        return 0
    out.write(_banner(market, f"Limit-up board {day}"))
    if len(result.stocks):
        out.write(scan.format_table(result.stocks))
    else:
        out.write(f"no stock touched its limit-up on {day}\n")
    out.write("\nCloses at the limits on " + day
              + " (limit_up/limit_down closes, broken = touched but closed below; "
                "ST stocks counted apart, total excludes ST):\n")
    out.write(scan.format_counts(result.counts))
    return 0


def _banner(market, title: str) -> str:
    tag = "  [SYNTHETIC demo data]" if market.synthetic else ""
    return f"{title}{tag}\n"

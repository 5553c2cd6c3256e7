"""``hypebt data import|info|fetch``: the local store of daily bars and names.

    hypebt data import FILE [--store DIR] [--drop-bad]
    hypebt data info [--store DIR]
    hypebt data fetch (--codes C[,C...] | --concept NAME) --start D [--end D] [--names]
                      [--delisted] [--actions] [--source akshare|baostock]
                      [--store DIR] [--interval S] [--retries N] [--backoff S] [--quiet]
    hypebt data fetch --names [--store DIR]
    hypebt data status --data PATH [--names FILE...] [--status FILE] [--out FILE]

The store is ``--store DIR``, else ``$HYPEBT_STORE``, else ``<user data dir>/store``; see
``docs/store.md``. ``fetch`` asks akshare only for the sessions a stock is missing, commits each
stock as it completes, and lists the stocks that failed after their retries (exit 2, the others
kept); running it again resumes. ``status`` writes the status table of a market: every
session whose ST / S-share / delisting-period status or reference price is not the default,
with where it came from (``docs/status.md``); the table is a valid ``[data] status`` file.
"""
from __future__ import annotations

import argparse
import math
import re
import sys

from backtests.core.calendar import to_date
from backtests.core.errors import ConfigError, DataError
from backtests.core.io import write_text_atomic
from backtests.core.rules import BOARD_UNKNOWN, board_of
from backtests.data.akshare import CallPolicy, get_source
from backtests.data.baostock import BaostockSource
from backtests.data.load import load_market
from backtests.data.status import status_frame
from backtests.data.store import (
    FetchInterrupted,
    Store,
    fetch_actions,
    fetch_bars,
    fetch_names,
    import_panel,
    info,
    last_final_session,
)

HELP = "local store: import a panel, fetch bars/names with akshare, show what is stored"

_CODE_FORMS = re.compile(r"^(?:(?:sh|sz|bj)\.?)?(\d{6})(?:\.(?:sh|sz|bj|ss))?$", re.IGNORECASE)


def parse_codes(text: str) -> list[str]:
    """``"002354,sz000785 301382.SZ"`` -> ``["000785", "002354", "301382"]`` (sorted, unique)."""
    codes = set()
    for item in re.split(r"[,\s，]+", text.strip()):
        if not item:
            continue
        m = _CODE_FORMS.match(item)
        if not m:
            raise DataError(f"--codes: {item!r} is not a stock code; expected 6 digits like 002354 "
                            f"(002354.SZ and sz002354 are accepted too)")
        if board_of(m.group(1)) == BOARD_UNKNOWN:
            raise DataError(f"--codes: {item!r} is not an A-share stock code (funds, ETFs, B shares "
                            f"and indices are not stocks); expected 00/30/60/68/8/4/920 codes")
        codes.add(m.group(1))
    if not codes:
        raise DataError("--codes: no codes given; expected e.g. --codes 002354,000785")
    return sorted(codes)


def add_store_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", metavar="DIR",
                   help="store directory (default: $HYPEBT_STORE, else <user data dir>/store)")


def add_network_arguments(p: argparse.ArgumentParser, *, progress: bool = True) -> None:
    g = p.add_argument_group("network pacing and retries")
    g.add_argument("--interval", type=float, default=0.5, metavar="S",
                   help="minimum seconds between two akshare calls (default 0.5)")
    g.add_argument("--retries", type=int, default=3, metavar="N",
                   help="attempts per call before a stock counts as failed (default 3)")
    g.add_argument("--backoff", type=float, default=1.0, metavar="S",
                   help="wait after the first failed attempt, doubled after each further one "
                        "(default 1.0)")
    g.add_argument("--timeout", type=float, default=8.0, metavar="S",
                   help="hard limit of one attempt in seconds, akshare's own retries included "
                        "(default 8: offline, a call gives up within 27 s)")
    if progress:
        g.add_argument("--quiet", action="store_true", help="no progress bar")


def policy_from_args(args):
    for option in ("interval", "backoff", "timeout"):
        value = getattr(args, option)
        if not math.isfinite(value):  # nan passes every >= check
            raise ConfigError(f"--{option} {value}: expected a finite number of seconds")
    return CallPolicy(interval=args.interval, attempts=args.retries, backoff=args.backoff,
                      timeout=args.timeout)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.set_defaults(_data_parser=p)
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")

    imp = sub.add_parser("import", help="validate a CSV/CSV.GZ/Parquet panel and merge it into the store",
                         description="Validate a panel file and merge it into the store. Rows of a "
                                     "(code, date) already stored are replaced by the file's.")
    imp.add_argument("file", metavar="FILE", help="panel file (English or akshare column names)")
    add_store_argument(imp)
    imp.add_argument("--drop-bad", action="store_true",
                     help="drop rows that fail validation (counted) instead of refusing the file")

    inf = sub.add_parser("info", help="list what the store holds",
                         description="Stocks, sessions, date range, rows, stocks per board, names "
                                     "and news articles in the store.")
    add_store_argument(inf)

    fet = sub.add_parser("fetch", help="download raw daily bars (and names) with akshare",
                         description="Download raw (unadjusted) daily bars with akshare's "
                                     "stock_zh_a_hist, only the sessions each stock is missing.")
    what = fet.add_mutually_exclusive_group()
    what.add_argument("--codes", metavar="C,C", help="comma-separated 6-digit codes")
    what.add_argument("--concept", metavar="NAME",
                      help="East Money concept board name (its constituents today); an unknown "
                           "name gets the closest board names")
    fet.add_argument("--start", metavar="D", help="first date, YYYY-MM-DD or YYYYMMDD")
    fet.add_argument("--end", metavar="D",
                     help="last date (default: the latest session whose bar is final)")
    fet.add_argument("--names", action="store_true",
                     help="also fetch every A-share's current name (stock_info_a_code_name)")
    fet.add_argument("--delisted", action="store_true",
                     help="also fetch every A-share delisted inside the range (the SSE/SZSE "
                          "delisting lists), so a whole-market panel keeps them")
    fet.add_argument("--actions", action="store_true",
                     help="also fetch each stock's corporate actions (新浪 分红送配 through "
                          "akshare) into the store's actions.csv: ex-date reference prices, "
                          "bonus shares and dividends credited to positions (docs/status.md)")
    fet.add_argument("--source", choices=("akshare", "baostock"), default="akshare",
                     help="where the bars come from: akshare (stock_zh_a_hist; the reference "
                          "previous close from 涨跌额) or baostock (query_history_k_data_plus "
                          "with preclose and isST; pip install -e \".[baostock]\"). Names and "
                          "concepts always come from akshare")
    add_store_argument(fet)
    add_network_arguments(fet)

    sta = sub.add_parser("status", help="write the status table: ST, S share, delisting period "
                                        "and reference price per session",
                         description="Load a market and write one row per (code, session) whose "
                                     "status or reference previous close is not the default, with "
                                     "its source (data, inferred, file). Edit it and pass it back "
                                     "as [data] status or --status.")
    sta.add_argument("--data", required=True, metavar="PATH",
                     help="panel file or store directory")
    sta.add_argument("--names", nargs="+", metavar="FILE", help="names file(s); first = current")
    sta.add_argument("--status", metavar="FILE", help="a status file laid over the inference")
    sta.add_argument("--out", metavar="FILE", help="CSV to write (default: standard output)")


def run(args) -> int:
    action = getattr(args, "data_command", None)
    if action is None:
        args._data_parser.print_help()
        return 2
    return {"import": _import, "info": _info, "fetch": _fetch, "status": _status}[action](args)


def _import(args) -> int:
    res = import_panel(args.file, args.store, drop_bad=args.drop_bad)
    if res.dropped:
        detail = ", ".join(f"{rule} {n}" for rule, n in res.dropped.items())
        print(f"dropped {sum(res.dropped.values())} bad rows: {detail}")
    print(f"imported {res.file}: {res.rows} rows, {res.stocks} stocks, {res.first} .. {res.last} "
          f"({res.added} new, {res.replaced} replaced)")
    print(f"store: {res.store}")
    return 0


def _info(args) -> int:
    for line in info(args.store).lines():
        print(line)
    return 0


def _fetch(args) -> int:
    if not (args.codes or args.concept or args.names or args.delisted):
        raise DataError("data fetch: nothing to fetch; give --codes C,C or --concept NAME "
                        "(with --start), and/or --names")
    codes = parse_codes(args.codes) if args.codes else None
    start = end = None
    if args.codes or args.concept or args.delisted:
        if not args.start:
            raise DataError("data fetch: --start D is required with --codes/--concept/--delisted")
        start = to_date(args.start, what="--start")
        end = to_date(args.end, what="--end") if args.end else last_final_session()
        if end < start:
            raise DataError(f"data fetch: --end {end} is before --start {start}")
    elif args.start or args.end:
        raise DataError("data fetch: --start/--end need --codes or --concept")
    policy = policy_from_args(args)
    source = get_source()
    bars_source = BaostockSource() if args.source == "baostock" else source
    st = Store.open(args.store, create=True)
    if args.concept:
        codes = policy.call(source.concept_constituents, args.concept)
        print(f"concept {args.concept}: {len(codes)} stocks")
        if not codes:
            raise DataError(f'concept "{args.concept}" has no constituents')
    if args.delisted:
        gone = policy.call(source.delisted_codes, start, end)
        print(f"delisted in range: {len(gone)} stocks")
        codes = sorted(set(codes or []) | set(gone))
    if args.names:
        print(f"names: {fetch_names(st, source=source, policy=policy)} stored")
    actions_failed = []
    if codes and args.actions:
        stored, actions_failed = fetch_actions(st, codes, source=source, policy=policy)
        print(f"corporate actions: {stored} rows for {len(codes) - len(actions_failed)} "
              f"stocks stored in {st.actions_path}")
    if codes:
        try:
            res = fetch_bars(st, codes, start, end, source=bars_source, policy=policy,
                             progress=not args.quiet)
        except FetchInterrupted as exc:
            r = exc.result
            print(f"interrupted: {len(r.fetched)} stocks stored, {len(r.up_to_date)} up to date; "
                  f"run the same command again to fetch the rest", file=sys.stderr)
            raise
        print(f"bars: {len(res.fetched)} fetched ({res.rows} rows), {len(res.up_to_date)} up to "
              f"date, {len(res.failed)} failed; sessions {start} .. {res.end}")
        print(f"store: {st.root}")
        if res.failed:
            listing = "; ".join(f"{code} ({msg})" for code, msg in res.failed)
            raise DataError(f"{len(res.failed)} of {res.total} stocks failed after "
                            f"{policy.attempts} attempts: {listing}; the other stocks were stored, "
                            f"run the same command again to retry the failed ones")
    else:
        print(f"store: {st.root}")
    if actions_failed:
        listing = "; ".join(f"{code} ({msg})" for code, msg in actions_failed)
        raise DataError(f"corporate actions of {len(actions_failed)} stocks failed: {listing}; "
                        f"the others were stored, run the same command again to retry")
    return 0


def _status(args) -> int:
    market = load_market(args.data, names=args.names, status=args.status)
    table = status_frame(market)
    text = table.to_csv(index=False, lineterminator="\n")
    if args.out:
        write_text_atomic(args.out, text)
        counts = table["source"].value_counts()
        print(f"wrote {args.out}: {len(table)} rows ("
              + ", ".join(f"{k} {counts.get(k, 0)}" for k in ("data", "inferred", "file")) + ")")
    else:
        sys.stdout.write(text)
    return 0

"""``hypebt news fetch|info``: grow the store's news archive from akshare.

    hypebt news fetch [--codes C[,C...]] [--keyword W ...] [--cls [--important]] [--store DIR]
                      [--interval S] [--retries N] [--backoff S]
    hypebt news info [--store DIR]

``--codes``/``--keyword`` call East Money's ``stock_news_em`` (its latest articles for each code
or keyword), ``--cls`` the 财联社 telegraph ``stock_info_global_cls``. New articles are appended to
``news/articles.jsonl`` in the store, deduplicated by id and by url, so the archive grows with
each fetch; the file is what ``hypebt signals`` and ``[signals] articles`` read.
"""
from __future__ import annotations

import argparse
import datetime as dt
from collections import Counter

from backtests.cli.data import (
    add_network_arguments,
    add_store_argument,
    parse_codes,
    policy_from_args,
)
from backtests.core.errors import DataError, NetworkError
from backtests.data.akshare import SHANGHAI, get_source
from backtests.data.store import Store

HELP = "news archive: fetch articles with akshare (East Money, 财联社) into the store"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.set_defaults(_news_parser=p)
    sub = p.add_subparsers(dest="news_command", metavar="ACTION")
    fet = sub.add_parser("fetch", help="fetch the latest articles into the store's archive",
                         description="Fetch articles with akshare and append the new ones to the "
                                     "store's news archive (deduplicated by id and url).")
    fet.add_argument("--codes", metavar="C,C", help="East Money news of these stocks (stock_news_em)")
    fet.add_argument("--keyword", action="append", default=[], metavar="W",
                     help="East Money news search for a keyword (repeatable)")
    fet.add_argument("--cls", action="store_true", help="the 财联社 telegraph (stock_info_global_cls)")
    fet.add_argument("--important", action="store_true",
                     help="with --cls: only telegraphs marked important (levels A, B)")
    add_store_argument(fet)
    add_network_arguments(fet, progress=False)
    inf = sub.add_parser("info", help="count the archived articles",
                         description="Articles in the store's news archive, their date range "
                                     "(Beijing time) and counts per source.")
    add_store_argument(inf)


def run(args) -> int:
    action = getattr(args, "news_command", None)
    if action is None:
        args._news_parser.print_help()
        return 2
    return {"fetch": _fetch, "info": _info}[action](args)


def _fetch(args) -> int:
    queries = (parse_codes(args.codes) if args.codes else []) + [k.strip() for k in args.keyword]
    if any(not q for q in queries):
        raise DataError("news fetch: --keyword must not be empty")
    if not queries and not args.cls:
        raise DataError("news fetch: nothing to fetch; give --codes C,C, --keyword W and/or --cls")
    if args.important and not args.cls:
        raise DataError("news fetch: --important applies to --cls only")
    policy = policy_from_args(args)
    source = get_source()
    st = Store.open(args.store, create=True)
    calls = [(q, source.stock_news, (q,), {}) for q in queries]
    if args.cls:
        calls.append(("cls", source.cls_telegraph, (), {"important": args.important}))
    fetched, new, dupes, total, failed, answered = 0, 0, 0, None, [], 0
    for label, fn, a, kw in calls:
        try:
            articles = policy.call(fn, *a, **kw)
        except NetworkError as exc:
            if not answered:  # offline: the other queries would fail the same way
                raise NetworkError(f"{exc}; news fetch stopped at {label}, the archive is "
                                   f"unchanged") from None
            failed.append((label, f"NetworkError: {exc}"))
            continue
        except Exception as exc:  # noqa: BLE001 - reported per query, others go on
            failed.append((label, f"{type(exc).__name__}: {' '.join(str(exc).split())}"))
            continue
        answered += 1
        n, d, total = st.add_articles(articles)  # committed per query, as it completes
        fetched += len(articles)
        new += n
        dupes += d
    if total is None:
        total = len(st.read_articles())
    print(f"news: {fetched} fetched, {new} new, {dupes} duplicates; archive {total} articles")
    print(f"store: {st.root}")
    if failed:
        listing = "; ".join(f"{q} ({msg})" for q, msg in failed)
        raise DataError(f"{len(failed)} of {len(calls)} news queries failed after {policy.attempts} "
                        f"attempts: {listing}; the other articles were stored")
    return 0


def _info(args) -> int:

    st = Store.open(args.store)
    articles = st.read_articles()
    print(f"store: {st.root}")
    print(f"articles: {len(articles)}")
    if articles:
        days = sorted(dt.datetime.fromisoformat(a["published"]).astimezone(SHANGHAI).date()
                      for a in articles)
        print(f"dates: {days[0]} .. {days[-1]}")
        counts = Counter(a["source"] or "-" for a in articles)
        print("sources: " + ", ".join(f"{s} {n}" for s, n in
                                      sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))))
    else:
        print("dates: -")
    return 0

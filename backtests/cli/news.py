"""``hypebt news import|fetch|search|info``: the store's news archive (SQLite, :mod:`backtests.data.news`).

    hypebt news import FILE|DIR ... [--store DIR] [--bare-date P] [--skip-bad] [--jobs N]
    hypebt news fetch [--codes C[,C...]] [--keyword W ...] [--cls [--important]] [--store DIR]
                      [--interval S] [--retries N] [--backoff S]
    hypebt news search TEXT [--start D] [--end D] [--limit N] [--store DIR]
    hypebt news info [--store DIR]
    hypebt news index [--names FILE ...] [--jobs N | --dask ADDRESS] [--store DIR]

``import`` reads article files and folders (JSON, JSON Lines, CSV, Markdown; UTF-8 or GBK),
parsed by ``--jobs`` processes (default: every core) while this one writes, for imports of 32 MB
or more.
``fetch``: ``--codes``/``--keyword`` call East Money's ``stock_news_em`` (its latest articles for
each code or keyword), ``--cls`` the 财联社 telegraph ``stock_info_global_cls``. Both add only new
articles (deduplicated by id, url and content), in transactions, so the archive grows with each
run; it is what ``hypebt signals --data STORE`` and ``[signals] archive = "store"`` read.
``index`` extracts the mentions of the articles not yet indexed for the packaged rules and the
names (``--names``, else the store's) over ``--jobs`` processes or a Dask cluster (``--dask
local`` or a scheduler address); a run with the same rules and names then reads the index
ready (it would otherwise extract the missing articles itself, in one process).
"""
from __future__ import annotations

import argparse
import datetime as dt

from backtests.cli.data import (
    add_network_arguments,
    add_store_argument,
    parse_codes,
    policy_from_args,
)
from backtests.core.calendar import to_date
from backtests.core.errors import ConfigError, DataError, NetworkError
from backtests.data.akshare import get_source
from backtests.data.load import stock_master
from backtests.data.store import Store
from signals.extract import Extractor
from signals.parallel import dask_client

HELP = "news archive: import, fetch (akshare: East Money, 财联社), search and count articles"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.set_defaults(_news_parser=p)
    sub = p.add_subparsers(dest="news_command", metavar="ACTION")
    fet = sub.add_parser("fetch", help="fetch the latest articles into the store's archive",
                         description="Fetch articles with akshare and append the new ones to the "
                                     "store's news archive (deduplicated by id, url and content).")
    fet.add_argument("--codes", metavar="C,C", help="East Money news of these stocks (stock_news_em)")
    fet.add_argument("--keyword", action="append", default=[], metavar="W",
                     help="East Money news search for a keyword (repeatable)")
    fet.add_argument("--cls", action="store_true", help="the 财联社 telegraph (stock_info_global_cls)")
    fet.add_argument("--important", action="store_true",
                     help="with --cls: only telegraphs marked important (levels A, B)")
    add_store_argument(fet)
    add_network_arguments(fet, progress=False)
    imp = sub.add_parser("import", help="import article files or folders into the archive",
                         description="Import articles (JSON, JSON Lines, CSV, Markdown files or "
                                     "folders of them; UTF-8 or GBK) into the store's news "
                                     "archive, deduplicated by id, url and content.")
    imp.add_argument("files", nargs="+", metavar="FILE", help="article files or folders")
    imp.add_argument("--bare-date", choices=("next_open", "same_day_open", "error"),
                     default="next_open", help="articles dated without a time: kept as bare "
                                               "dates (default), or refused with 'error'")
    imp.add_argument("--skip-bad", action="store_true",
                     help="skip (and count) bad records instead of stopping at the first")
    imp.add_argument("--jobs", type=int, default=None, metavar="N",
                     help="parse in N processes while this one writes (default: every core; "
                          "imports under 32 MB are parsed in one)")
    add_store_argument(imp)
    sea = sub.add_parser("search", help="archived articles containing a text",
                         description="Archived articles whose title or body contains TEXT, newest "
                                     "first (full-text index, trigram FTS5, for 3+ characters).")
    sea.add_argument("text", metavar="TEXT")
    sea.add_argument("--start", default=None, metavar="DATE", help="published on or after (Beijing)")
    sea.add_argument("--end", default=None, metavar="DATE", help="published on or before (Beijing)")
    sea.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    add_store_argument(sea)
    inf = sub.add_parser("info", help="count the archived articles",
                         description="Articles in the store's news archive, their date range "
                                     "(Beijing time) and counts per source.")
    add_store_argument(inf)
    idx = sub.add_parser("index", help="extract mentions into the archive's mention index",
                         description="Extract the mentions of the archived articles not yet "
                                     "indexed for the packaged rules and these names, over "
                                     "processes or a Dask cluster (identical results).")
    idx.add_argument("--names", nargs="+", default=None, metavar="FILE",
                     help="names file(s) code,name[,list_date] (default: the store's names)")
    idx.add_argument("--jobs", type=int, default=1, metavar="N",
                     help="extract in N processes (default 1)")
    idx.add_argument("--dask", default=None, metavar="ADDRESS",
                     help="extract on a Dask cluster: a scheduler address, or 'local' for a "
                          "local cluster of --jobs processes (needs hypebt[dask])")
    add_store_argument(idx)


def run(args) -> int:
    action = getattr(args, "news_command", None)
    if action is None:
        args._news_parser.print_help()
        return 2
    return {"import": _import, "fetch": _fetch, "search": _search, "info": _info,
            "index": _index}[action](args)


def _import(args) -> int:
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"news import: --jobs {args.jobs}: expected a positive number")
    st = Store.open(args.store, create=True)
    with st.news() as arch:
        counts = arch.import_files(args.files, bare_date=args.bare_date, skip_bad=args.skip_bad,
                                   workers=args.jobs)
    print(f"news: {counts.new} new, {counts.duplicates} duplicates, {len(counts.skipped)} skipped; "
          f"archive {counts.total} articles")
    for msg in counts.skipped:
        print(f"skipped: {msg}")
    print(f"store: {st.root}")
    return 0


def _day(value: str | None, what: str, end: bool = False):
    if value is None:
        return None
    day = to_date(value, what=what).astype(object)
    return dt.datetime.combine(day + dt.timedelta(days=1) if end else day, dt.time())


def _search(args) -> int:
    if not args.text.strip():
        raise ConfigError("news search: TEXT must not be empty")
    if args.limit < 1:
        raise ConfigError(f"news search: --limit {args.limit}: expected a positive number")
    st = Store.open(args.store)
    start, end = _day(args.start, "--start"), _day(args.end, "--end", end=True)
    with st.news() as arch:
        rows = arch.search(args.text.strip(), start, end, limit=args.limit)
    for r in rows:
        print(f"{r['published'][:16].replace('T', ' ')}  {r['id']}  {r['title']}")
    print(f"{len(rows)} article(s)" + (f" (--limit {args.limit} reached)" if len(rows) == args.limit else ""))
    return 0


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
        with st.news() as arch:
            total = arch.count()
    print(f"news: {fetched} fetched, {new} new, {dupes} duplicates; archive {total} articles")
    print(f"store: {st.root}")
    if failed:
        listing = "; ".join(f"{q} ({msg})" for q, msg in failed)
        raise DataError(f"{len(failed)} of {len(calls)} news queries failed after {policy.attempts} "
                        f"attempts: {listing}; the other articles were stored")
    return 0


def _info(args) -> int:
    st = Store.open(args.store)
    print(f"store: {st.root}")
    if not st.has_news():
        print("articles: 0")
        print("dates: -")
        return 0
    with st.news(readonly=True) as arch:
        info = arch.info()
    print(f"articles: {info['articles']}")
    if info["articles"]:
        print(f"dates: {info['first']} .. {info['last']}")
        print("sources: " + ", ".join(f"{s} {n}" for s, n in info["sources"]))
    else:
        print("dates: -")
    for version, n in info["indexed"].items():
        print(f"mention index {version}: {n} articles")
    return 0


def _index(args) -> int:
    if args.jobs < 1:
        raise ConfigError(f"news index: --jobs {args.jobs}: expected a positive number")
    st = Store.open(args.store)
    master = stock_master(args.names or (), store=st.root)
    if master is None:
        raise DataError(f"{st.root}: the store has no names; give --names FILE or run "
                        "`hypebt data import` with a names file")
    if not st.has_news():
        raise DataError(f"{st.root}: no news archive; run `hypebt news import FILE` first")
    extractor = Extractor(master)
    client = cluster = None
    if args.dask:
        client, cluster = dask_client(args.dask, args.jobs)
    try:
        with st.news() as arch:
            n = arch.index(extractor, workers=args.jobs, dask=client)
            total = arch.count()
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    print(f"news index: {n} articles extracted (rules version {extractor.version}); "
          f"archive {total} articles")
    print(f"store: {st.root}")
    return 0

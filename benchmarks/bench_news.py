"""Benchmark: the news archive at scale -- import, extraction into the mention index, marks.

    .venv/bin/python benchmarks/bench_news.py [--articles 1000000] [--sample 5000] [--workers 2]
                                              [--pool-sample 50000] [--baseline-commit REV]
                                              [--import-only]

SYNTHETIC articles of ~2,000 characters with realistic name densities
(:mod:`benchmarks.news_corpus`, ~12 mentions each, ~1,000 a day) are written as JSON Lines
files (untimed), then timed in one process:

1. ``hypebt news import`` of all of them into a fresh SQLite archive -> articles/s, and the CPU
   an article of the writing process and of the parsing workers (``--import-only``: stop after
   this line and today's extractor's, for the ratio);
2. **today's extractor** -- the ``Extractor`` of ``--baseline-commit`` (default: the commit this
   branch started from), loaded from ``git archive`` into this same process -- on ``--sample``
   articles: what every backtest, grid group and ``signals`` call paid per article before the
   mention index;
3. this branch's extractor on the same sample, one process (the rules changed too: clause-first
   roles, soft line breaks, board states -- not only speed): ``extract`` (the ``Mention`` tuples
   of a backtest's ``signals`` step) and the rows of the mention index (``index_rows``, what the
   index's workers run); with ``--workers`` > 1 both extractors again on ``--pool-sample``
   articles over one pool of that many forked processes (:class:`signals.parallel.ExtractPool`,
   forked and warmed before the clock starts, no database; the rows pickled back to this
   process are included): the extraction rate on that many cores, and the CPU an article of
   the workers; then this extractor's index parts (``Extractor.index_part``, column-wise: what
   the mention index's workers extract now), in one process and over such a pool;
4. the mention index built for all articles with ``--workers`` processes -> articles/s (wall),
   also as a ratio to 3.'s one-process rate, and the CPU an article of the writing process and
   of the extracting workers;
5. marks from the index for the first year of sessions (or the whole span when shorter) ->
   seconds, against re-extracting that window with today's extractor (extrapolated from 2.);
   a first call, then three more (warm: numba kernels compiled, the day blocks stored, SQLite
   pages cached), the best of which is the figure (a shared machine's load falls unevenly).

Every line prints the ratio to today's extractor. Rates are wall time unless marked CPU; the
machine may be shared (load average printed).
"""
from __future__ import annotations

import argparse
import gc
import importlib
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DATA = os.environ.get("HYPEBT_SHARED_DATA", os.path.join(REPO, "..", "shared", "data"))
sys.path.insert(0, REPO)

from benchmarks.news_corpus import make_records

NAME_FILES = (os.path.join(DATA, "ashare_names_20250418.csv"),
              os.path.join(DATA, "ashare_codes_names_listdates_2023.csv"))


def baseline_rev(commit: str | None) -> str:
    """``commit``, or by default the commit this branch started from (its merge base with
    ``main``; empty when there is none)."""
    return commit or subprocess.run(
        ["git", "-C", REPO, "merge-base", "HEAD", "main"], capture_output=True, text=True,
        check=False).stdout.strip()


_IMPORT_RE = re.compile(r"\b(from|import) (signals|backtests)\b")


def load_baseline(commit: str, where: str):
    """``(Extractor, load_master, make_article, article_rows)`` of ``commit``, extracted from git
    into ``where`` with its packages renamed (``signals`` -> ``hb_base_signals``, likewise
    ``backtests``) and imported into this process. Renamed, not swapped in under the usual
    names: numba names a compiled function's environment after its module, and two trees'
    kernels under one module name can clash in one process (``NRT_adapt_ndarray_to_python:
    'descr' is NULL``). ``article_rows`` is None for a commit without ``signals.parallel``."""
    subprocess.run(f"git -C {REPO} archive {commit} signals backtests | tar -x -C {where}",
                   shell=True, check=True)
    for pkg in ("signals", "backtests"):
        os.rename(os.path.join(where, pkg), os.path.join(where, f"hb_base_{pkg}"))
    for root, _dirs, files in os.walk(where):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                with open(path, encoding="utf-8") as fh:
                    src = fh.read()
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(_IMPORT_RE.sub(r"\1 hb_base_\2", src))
    sys.path.insert(0, where)
    try:
        extract = importlib.import_module("hb_base_signals.extract")
        articles = importlib.import_module("hb_base_signals.articles")
        try:                                    # the package layout before and after v0.2
            master = importlib.import_module("hb_base_backtests.data.master")
        except ModuleNotFoundError:
            master = importlib.import_module("hb_base_backtests.master")
        try:
            rows = importlib.import_module("hb_base_signals.parallel").article_rows
        except (ModuleNotFoundError, AttributeError):
            rows = None
    finally:
        sys.path.remove(where)
    return extract.Extractor, master.load_master, articles.make_article, rows


def baseline_or_this(commit: str, where: str) -> tuple[tuple, str]:
    """``(load_baseline(commit, where), label)``; when ``commit`` cannot be loaded (no git
    history with a 'main' branch), this tree's ``(Extractor, load_master, make_article,
    article_rows)`` instead, said on stdout, and the label says so."""
    try:
        return load_baseline(commit, where), f"baseline {commit[:10]}"
    except (subprocess.CalledProcessError, ImportError) as exc:
        print(f"baseline: not available ({type(exc).__name__}; no git history with a 'main' "
              f"branch?): this tree against itself")
    from backtests.data.master import load_master
    from signals.articles import make_article
    from signals.extract import Extractor
    from signals.parallel import article_rows
    return (Extractor, load_master, make_article, article_rows), "this tree (again)"


def index_parts(extractor, items) -> object:
    """The mention index's part of ``(key, title, body)`` items
    (:meth:`signals.extract.Extractor.index_part`: what the index's workers extract), a task of
    the pool."""
    return extractor.index_part([(title, body) for _key, title, body in items])


def pool_rate(extractor, task, items: list, workers: int) -> tuple[float, float]:
    """``(articles/s, workers' CPU µs an article)`` of ``task`` over ``items`` in one
    :class:`signals.parallel.ExtractPool` of ``workers`` processes, forked and warmed (on the
    first two chunks a worker) before the clock starts; the CPU counts the warm-up too."""
    from signals.parallel import ExtractPool
    k0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with ExtractPool(extractor, workers=workers, task=task) as pool:
        warm = items[:2 * pool.chunk * workers]
        pool.submit(warm)()                      # fork the workers, warm them up
        t0 = time.perf_counter()
        pool.submit(items)()
        rate = len(items) / (time.perf_counter() - t0)
    k1 = resource.getrusage(resource.RUSAGE_CHILDREN)    # the workers, reaped
    cpu = k1.ru_utime + k1.ru_stime - k0.ru_utime - k0.ru_stime
    return rate, cpu / (len(items) + len(warm)) * 1e6


def master_and_records(n: int):
    """The master of :data:`NAME_FILES` and ``n`` bench records of its names (seed 7)."""
    from backtests.data.master import load_master
    master = load_master(*NAME_FILES)
    codes = list(master.frame.index)
    return master, make_records([master.name_of(c) for c in codes], codes, n, seed=7)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=1_000_000)
    ap.add_argument("--sample", type=int, default=5_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pool-sample", type=int, default=50_000,
                    help="articles extracted over the pool of --workers processes")
    ap.add_argument("--baseline-commit", default=None)
    ap.add_argument("--import-only", action="store_true")
    args = ap.parse_args(argv)
    base_rev = baseline_rev(args.baseline_commit)

    from backtests.core.calendar import trading_calendar
    from backtests.data.master import load_master
    from backtests.data.news import NewsArchive, archive_marks
    from signals.articles import make_article
    from signals.extract import Extractor
    from signals.parallel import article_rows

    names = NAME_FILES
    master = load_master(*names)
    codes = list(master.frame.index)
    stock_names = [master.name_of(c) for c in codes]
    with tempfile.TemporaryDirectory(prefix="hypebt-bench-news-") as tmp:
        src = os.path.join(tmp, "src")
        os.makedirs(src)
        t0 = time.perf_counter()
        chunk, n_chars = 50_000, 0
        sample_recs, pool_recs = [], []
        import json
        for k in range(0, args.articles, chunk):
            recs = make_records(stock_names, codes, min(chunk, args.articles - k), seed=7 + k,
                                first=k)           # one timeline: ~1,000 articles a day
            n_chars += sum(len(r["body"]) for r in recs)
            if not sample_recs:
                sample_recs = recs[:args.sample]
            if len(pool_recs) < args.pool_sample:
                pool_recs += recs[:args.pool_sample - len(pool_recs)]
            with open(os.path.join(src, f"part{k // chunk:04d}.jsonl"), "w", encoding="utf-8") as fh:
                fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in recs)
        print(f"corpus: {args.articles:,} SYNTHETIC articles, mean {n_chars / args.articles:,.0f} "
              f"characters, written in {time.perf_counter() - t0:.0f} s (untimed)")

        arch = NewsArchive(os.path.join(tmp, "archive.sqlite"))
        t0, c0 = time.perf_counter(), time.process_time()
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        counts = arch.import_files([src])
        t_imp, c_imp = time.perf_counter() - t0, time.process_time() - c0
        kids2 = resource.getrusage(resource.RUSAGE_CHILDREN)
        c_kids = kids2.ru_utime + kids2.ru_stime - kids.ru_utime - kids.ru_stime
        imp_rate = counts.new / t_imp

        base_dir = os.path.join(tmp, "baseline")
        os.makedirs(base_dir)
        (BaseExtractor, base_load_master, base_make_article, _), _ = \
            baseline_or_this(base_rev, base_dir)
        base_ex = BaseExtractor(base_load_master(*names))
        base_arts = [base_make_article(r, origin="bench") for r in sample_recs]
        base_ex.extract(base_arts[0])
        # the harness's own objects (two trees' extractors and names, the records) out of the
        # cyclic collector's walks: a full collection walked them all every few hundred
        # articles of the extraction timed (64 -> 134 us an article, docs/benchmarks.md); a
        # process of hypebt holds one extractor, not two
        gc.freeze()
        t0, c0 = time.perf_counter(), time.process_time()
        for a in base_arts:
            base_ex.extract(a)
        t_base, c_base = time.perf_counter() - t0, time.process_time() - c0
        base_rate = len(base_arts) / t_base
        print(f"today's extractor ({base_rev[:10]}), 1 process: {base_rate:,.0f} articles/s "
              f"({len(base_arts) / c_base:,.0f} CPU)  = 1.00x")

        print(f"import:   {counts.new:,} new in {t_imp:.1f} s = {imp_rate:,.0f} articles/s "
              f"= {imp_rate / base_rate:.2f}x today's extraction rate "
              f"(target 20,000: {'met' if imp_rate >= 20_000 else 'NOT met'}); CPU an article: "
              f"writer {c_imp / counts.new * 1e6:.0f} us, workers {c_kids / counts.new * 1e6:.0f} us")
        if args.import_only:
            arch.close()
            print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            return 0

        ex = Extractor(master)
        arts = [make_article(r, origin="bench") for r in sample_recs]
        items = [(i, a.title, a.body) for i, a in enumerate(arts)]
        ex.extract(arts[0])
        ex.index_rows(items[:64])
        ex.index_part([(a.title, a.body) for a in arts[:64]])
        gc.freeze()
        t0, c0 = time.perf_counter(), time.process_time()
        for a in arts:
            ex.extract(a)
        t_new, c_new = time.perf_counter() - t0, time.process_time() - c0
        new_rate = len(arts) / t_new
        print(f"this extractor, 1 process:                  {new_rate:,.0f} articles/s "
              f"({len(arts) / c_new:,.0f} CPU) = {new_rate / base_rate:.2f}x")
        t0, c0 = time.perf_counter(), time.process_time()
        ex.index_rows(items)
        t_rows, c_rows = time.perf_counter() - t0, time.process_time() - c0
        print(f"this extractor's index rows, 1 process:     {len(items) / t_rows:,.0f} articles/s "
              f"({len(items) / c_rows:,.0f} CPU = {c_rows / len(items) * 1e6:.0f} us an article) "
              f"= {len(items) / t_rows / base_rate:.2f}x")

        pairs = [(a.title, a.body) for a in arts]
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(0, len(pairs), 1000):         # the index's chunks
            ex.index_part(pairs[i:i + 1000])
        t_part, c_part = time.perf_counter() - t0, time.process_time() - c0
        print(f"this extractor's index parts, 1 process:    {len(pairs) / t_part:,.0f} articles/s "
              f"({len(pairs) / c_part:,.0f} CPU = {c_part / len(pairs) * 1e6:.0f} us an article) "
              f"= {len(pairs) / t_part / base_rate:.2f}x")

        if args.workers > 1:          # extraction alone over one pool of processes, both extractors
            pool_items = [(i, r.get("title", ""), r.get("body", "")) for i, r in enumerate(pool_recs)]
            rates = []
            for label, which in (("today's extractor", base_ex), ("this extractor", ex)):
                rate, cpu = pool_rate(which, article_rows, pool_items, args.workers)
                rates.append(rate)
                print(f"{label}, {args.workers} processes: {rate:,.0f} articles/s "
                      f"= {rate / base_rate:.2f}x ({len(pool_items):,} articles, no database, "
                      f"the pool forked and warmed first; workers' CPU an article {cpu:.0f} us)")
            print(f"this extractor vs today's, both {args.workers} processes: "
                  f"{rates[1] / rates[0]:.2f}x (target 20,000 articles/s: "
                  f"{'met' if rates[1] >= 20_000 else 'NOT met'})")
            rate, cpu = pool_rate(ex, index_parts, pool_items, args.workers)
            print(f"this extractor's index parts (what the mention index runs), {args.workers} "
                  f"processes: {rate:,.0f} articles/s = {rate / base_rate:.2f}x, "
                  f"{rate / rates[0]:.2f}x today's rows in the same pool (workers' CPU an article "
                  f"{cpu:.0f} us; target 20,000 articles/s: "
                  f"{'met' if rate >= 20_000 else 'NOT met'})")

        t0, c0 = time.perf_counter(), time.process_time()
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        n_idx = arch.index(ex, workers=args.workers)
        t_idx, c_idx = time.perf_counter() - t0, time.process_time() - c0
        kids2 = resource.getrusage(resource.RUSAGE_CHILDREN)
        c_kids = kids2.ru_utime + kids2.ru_stime - kids.ru_utime - kids.ru_stime
        idx_rate = n_idx / t_idx
        print(f"mention index, {args.workers} processes: {n_idx:,} articles in {t_idx:.1f} s = "
              f"{idx_rate:,.0f} articles/s = {idx_rate / base_rate:.2f}x today, "
              f"{idx_rate / new_rate:.2f}x this extractor in 1 process "
              f"(target 20,000: {'met' if idx_rate >= 20_000 else 'NOT met'}); "
              f"one-off per rules version; CPU an article: writer {c_idx / n_idx * 1e6:.0f} us, "
              f"workers {c_kids / n_idx * 1e6:.0f} us")

        cal = trading_calendar()
        first = cal.next(np.datetime64("2020-01-02"), inclusive=True)
        i0 = int(np.searchsorted(cal.sessions, first))
        last_pub = np.datetime64("2020-01-02") + np.timedelta64(int(args.articles * 1.44 / 1440), "D")
        end = min(cal.sessions[min(i0 + 243, len(cal.sessions) - 1)], cal.previous(last_pub))
        n_window = arch.con.execute("SELECT COUNT(*) FROM articles WHERE ts < ?",
                                    (int((end - np.datetime64("1970-01-01")).astype(int)) * 86400,)
                                    ).fetchone()[0]
        t0 = time.perf_counter()
        marks = archive_marks(arch, ex, cal, first, end)
        t_cold = time.perf_counter() - t0
        warm = []
        for _ in range(3):
            marks = None            # the frame before freed first, as a run holds only one
            t0 = time.perf_counter()
            marks = archive_marks(arch, ex, cal, first, end)
            warm.append(time.perf_counter() - t0)
        t_marks = min(warm)
        print(f"marks, first call (numba compile, cold pages, day blocks built): {t_cold:.2f} s; "
              f"three warm calls: {', '.join(f'{t:.2f}' for t in warm)} s (the best below)")
        t_today = n_window / base_rate
        print(f"marks {first}..{end} ({n_window:,} articles): {t_marks:.2f} s from the index "
              f"({len(marks):,} marks) vs {t_today:,.0f} s re-extracting with today's extractor "
              f"= {t_today / t_marks:,.0f}x (target <= 1 s: {'met' if t_marks <= 1 else 'NOT met'})")
        arch.close()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())

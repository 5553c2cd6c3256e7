"""Benchmark: marks for a window from the mention index, this tree against a baseline commit,
alternating in one process.

    .venv/bin/python benchmarks/bench_marks.py [--archive PATH] [--articles 20000] [--rounds 5]
                                               [--baseline-commit REV] [--fresh ROUNDS]

``--archive``: an archive already indexed with this tree's rules version (opened read-only, its
day blocks stored, e.g. the archive of ``bench_news.py``); without it, ``--articles`` synthetic
bench articles (:mod:`benchmarks.news_corpus`, ~1,000 a day) are imported and indexed into a
temporary one. The window is ``bench_news.py``'s step 5: from 2020-01-02, 244 sessions (or the
archive's span when shorter), with the look-back ``archive_marks`` reads.

The baseline (default: the commit this branch started from) is loaded into the same process with
its packages renamed (``load_baseline``) and reads the same archive; both sides' frames are
checked equal (exact), then each round calls the baseline's ``archive_marks`` and this tree's
once and prints wall time, CPU time of the process (both threads) and minor page faults. The
machine is shared: compare the two sides within a round, and the best and median of the rounds.

``--fresh ROUNDS``: then, alternately for the baseline and this tree, a new process per side and
round (imports and set-up untimed) times its first call of ``archive_marks`` -- what one
``hypebt`` run pays: cached kernels loaded, every page fresh -- and a second call after the
first frame is dropped.
"""
from __future__ import annotations

import argparse
import importlib
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from benchmarks.bench_news import NAME_FILES, baseline_rev, load_baseline
from benchmarks.news_corpus import make_records


def _timed(fn) -> tuple:
    """``(result, wall s, CPU s, minor page faults)`` of one call."""
    flt = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return out, wall, cpu, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - flt


def fresh_calls(side: str, archive: str, end: str, base_dir: str) -> int:
    """One fresh process's calls (``--child``): prints ``first call wall, CPU; second call
    wall, CPU`` of ``side`` (``base``: the baseline's packages in ``base_dir``)."""
    prefix = ""
    if side == "base":
        sys.path.insert(0, base_dir)
        prefix = "hb_base_"
    news = importlib.import_module(f"{prefix}backtests.data.news")
    cal = importlib.import_module(f"{prefix}backtests.core.calendar").trading_calendar()
    load = importlib.import_module(f"{prefix}backtests.data.master").load_master
    ex = importlib.import_module(f"{prefix}signals.extract").Extractor(load(*NAME_FILES))
    arch = news.NewsArchive(archive, readonly=True)
    first = cal.next(np.datetime64("2020-01-02"), inclusive=True)
    frame, wall1, cpu1, _ = _timed(lambda: news.archive_marks(arch, ex, cal, first,
                                                              np.datetime64(end)))
    del frame
    _, wall2, cpu2, _ = _timed(lambda: news.archive_marks(arch, ex, cal, first,
                                                          np.datetime64(end)))
    print(f"{wall1:.3f} {cpu1:.3f} {wall2:.3f} {cpu2:.3f}")
    arch.close()
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", default=None)
    ap.add_argument("--articles", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--baseline-commit", default=None)
    ap.add_argument("--fresh", type=int, default=0)
    ap.add_argument("--child", choices=("base", "this"), help=argparse.SUPPRESS)
    ap.add_argument("--end", help=argparse.SUPPRESS)
    ap.add_argument("--base-dir", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return fresh_calls(args.child, args.archive, args.end, args.base_dir)

    import pandas as pd

    from backtests.core.calendar import trading_calendar
    from backtests.data.master import load_master
    from backtests.data.news import NewsArchive, archive_marks
    from signals.articles import make_article
    from signals.extract import Extractor

    master = load_master(*NAME_FILES)
    ex = Extractor(master)
    cal = trading_calendar()
    first = cal.next(np.datetime64("2020-01-02"), inclusive=True)
    i0 = int(np.searchsorted(cal.sessions, first))

    def window_end(archive) -> np.datetime64:
        last = archive.con.execute("SELECT MAX(ts) FROM articles").fetchone()[0]
        return min(cal.sessions[min(i0 + 243, len(cal.sessions) - 1)],
                   cal.previous(np.datetime64(int(last), "s").astype("datetime64[D]")))

    with tempfile.TemporaryDirectory(prefix="hypebt-bench-marks-") as tmp:
        path = args.archive
        if path is None:
            path = os.path.join(tmp, "archive.sqlite")
            codes = list(master.frame.index)
            recs = make_records([master.name_of(c) for c in codes], codes, args.articles, seed=7)
            with NewsArchive(path) as arch:
                arch.add(make_article(r, origin="bench", index=k) for k, r in enumerate(recs))
                arch.index(ex)
                archive_marks(arch, ex, cal, first, window_end(arch))   # stores the day blocks
        arch = NewsArchive(path, readonly=True)
        end = window_end(arch)

        rev = baseline_rev(args.baseline_commit)
        base_dir = os.path.join(tmp, "baseline")
        os.makedirs(base_dir)
        BaseExtractor, base_load_master, _, _ = load_baseline(rev, base_dir)
        sys.path.insert(0, base_dir)
        base_news = importlib.import_module("hb_base_backtests.data.news")
        base_cal = importlib.import_module("hb_base_backtests.core.calendar").trading_calendar()
        sys.path.remove(base_dir)
        base_ex = BaseExtractor(base_load_master(*NAME_FILES))
        if base_ex.version != ex.version:
            print(f"Error: the baseline {rev[:9]}'s rules version differs from this tree's: "
                  "one index cannot serve both")
            return 2
        base_arch = base_news.NewsArchive(path, readonly=True)
        sides = {
            f"baseline {rev[:9]}": lambda: base_news.archive_marks(base_arch, base_ex, base_cal,
                                                                   first, end),
            "this tree": lambda: archive_marks(arch, ex, cal, first, end),
        }
        frames = [fn() for fn in sides.values()]            # compiles, warms the pages
        pd.testing.assert_frame_equal(frames[0], frames[1], check_exact=True)
        print(f"marks {first}..{end}: {len(frames[1]):,} marks, identical frames "
              f"(baseline and this tree)")
        del frames
        runs: dict[str, list] = {k: [] for k in sides}
        for r in range(args.rounds):
            line = []
            for name, fn in sides.items():
                _, wall, cpu, flt = _timed(fn)
                runs[name].append((wall, cpu))
                line.append(f"{name}: {wall:.2f} s wall, {cpu:.2f} s CPU, {flt:,} faults")
            print(f"round {r + 1}: " + "; ".join(line))
        best = {k: min(w for w, _ in v) for k, v in runs.items()}
        for name, v in runs.items():
            print(f"{name}: best {best[name]:.2f} s wall, median "
                  f"{np.median([w for w, _ in v]):.2f} s wall, {np.median([c for _, c in v]):.2f} s CPU")
        base_best, this_best = best.values()
        print(f"marks: baseline/this tree = {base_best / this_best:.2f}x (best wall); this tree "
              f"{this_best:.2f} s (target <= 1 s: {'met' if this_best <= 1 else 'NOT met'})")
        fresh: dict[str, list] = {"base": [], "this": []}
        for r in range(args.fresh):
            line = []
            for side, label in (("base", f"baseline {rev[:9]}"), ("this", "this tree")):
                out = subprocess.run(
                    [sys.executable, os.path.abspath(__file__), "--child", side, "--archive",
                     path, "--end", str(end), "--base-dir", base_dir],
                    capture_output=True, text=True, check=True).stdout.split()
                fresh[side].append([float(x) for x in out])
                line.append(f"{label}: first call {out[0]} s wall ({out[1]} CPU), "
                            f"second {out[2]} s ({out[3]})")
            print(f"fresh process {r + 1}: " + "; ".join(line))
        for side, label in (("base", f"baseline {rev[:9]}"), ("this", "this tree")):
            if fresh[side]:
                v = np.array(fresh[side])
                print(f"{label}, fresh processes: first call {v[:, 0].min():.2f}-"
                      f"{v[:, 0].max():.2f} s wall (median {np.median(v[:, 0]):.2f}, CPU "
                      f"{np.median(v[:, 1]):.2f}); second call median {np.median(v[:, 2]):.2f} s")
        arch.close()
        base_arch.close()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

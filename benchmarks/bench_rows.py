"""Extraction into the mention index's rows, per article: a baseline commit's extractor against
this tree's, alternating in one process, on SYNTHETIC benchmark articles.

    python benchmarks/bench_rows.py [--articles 3000] [--repeat 5] [--baseline-commit REV]

1. the baseline commit (default: the merge base with ``main``) is extracted from git into a
   temporary folder with its packages renamed (:func:`benchmarks.bench_news.load_baseline`);
2. both extractors give ``signals.parallel.article_rows`` of the same articles and
   ``extract_text`` of the first 1,000: they must be equal (else the script fails);
3. times: blocks of 300 articles, the baseline and this tree alternating block by block,
   ``--repeat`` rounds; each block's best CPU time, summed. Printed per article, for
   ``article_rows`` (what the mention index stores) and ``extract_text`` (mentions with their
   sentence), with the ratios baseline/this; and the name matcher alone on the normalised
   texts (this tree's), subtracted from both to give the rest of the extraction; and each
   tree's ``article_rows`` split at the name matcher (normalisation and the matcher before,
   the themes and roles kernel and the rows after), timed inside the same best blocks.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

from benchmarks.bench_news import NAME_FILES, baseline_or_this, baseline_rev, master_and_records
from signals.extract import Extractor
from signals.normalize import normalize_text
from signals.parallel import article_rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--baseline-commit", default=None)
    args = ap.parse_args(argv)
    base_rev = baseline_rev(args.baseline_commit)
    master, recs = master_and_records(args.articles)
    items = [(k, r["title"], r["body"]) for k, r in enumerate(recs)]
    with tempfile.TemporaryDirectory(prefix="hypebt-bench-rows-") as tmp:
        (BaseEx, base_load, _make, base_rows), label = baseline_or_this(base_rev, tmp)
        base = BaseEx(base_load(*NAME_FILES))
        ex = Extractor(master)
        if base_rows(base, items) != article_rows(ex, items):
            print("Error: the rows differ from the baseline's")
            return 1
        for _k, title, body in items[:1000]:
            if base.extract_text(title, body) != ex.extract_text(title, body):
                print(f"Error: extract_text differs from the baseline's: {title!r}")
                return 1
        print(f"{len(items):,} SYNTHETIC articles: rows and extract_text equal to the {label}")
        blocks = [items[i:i + 300] for i in range(0, len(items), 300)]
        normed = {}                         # the name matcher alone, on the normalised texts
        for _k, title, body in items:
            head = " ".join(title.splitlines())
            normed[_k] = normalize_text(f"{head}\n{body}", keep_break=len(head))[0]
        runs = {"base rows": lambda p: base_rows(base, p), "rows": lambda p: article_rows(ex, p),
                "base text": lambda p: [base.extract_text(t, b) for _k, t, b in p],
                "text": lambda p: [ex.extract_text(t, b) for _k, t, b in p],
                "matcher": lambda p: [ex.matcher.find(normed[k]) for k, _t, _b in p]}
        best = {name: [float("inf")] * len(blocks) for name in runs}
        watches = {"base rows": _Stages(base), "rows": _Stages(ex)}
        stage = {name: [None] * len(blocks) for name in watches}
        for _ in range(args.repeat):
            for j, part in enumerate(blocks):      # alternating block by block
                for name, run in runs.items():
                    watch = watches.get(name)
                    if watch is not None:
                        watch.reset()
                    c0 = time.process_time()
                    run(part)
                    took = time.process_time() - c0
                    if took < best[name][j]:
                        best[name][j] = took
                        if watch is not None:
                            stage[name][j] = watch.split(took)
        us = {name: sum(v) / len(items) * 1e6 for name, v in best.items()}
        print(f"article_rows: {label} {us['base rows']:.1f} us an article, this tree "
              f"{us['rows']:.1f} us = {us['base rows'] / us['rows']:.2f}x")
        print(f"extract_text: {label} {us['base text']:.1f} us an article, this tree "
              f"{us['text']:.1f} us = {us['base text'] / us['text']:.2f}x")
        m = us["matcher"]
        print(f"of which this tree's name matcher alone: {m:.1f} us; the rest: "
              f"rows {us['base rows'] - m:.1f} -> {us['rows'] - m:.1f} us = "
              f"{(us['base rows'] - m) / (us['rows'] - m):.2f}x, extract_text "
              f"{us['base text'] - m:.1f} -> {us['text'] - m:.1f} us = "
              f"{(us['base text'] - m) / (us['text'] - m):.2f}x")
        print(f"rows: baseline/this {us['base rows'] / us['rows']:.2f}x (best CPU time of each "
              f"block of 300, {args.repeat} rounds, alternating)")
        if all(w.ok for w in watches.values()):
            split = {name: [sum(b[i] for b in v) / len(items) * 1e6 for i in range(2)]
                     for name, v in stage.items()}
            (b_before, b_after), (t_before, t_after) = split["base rows"], split["rows"]
            print(f"article_rows by stage (the same best blocks): normalisation and the name "
                  f"matcher {b_before:.1f} -> {t_before:.1f} us; after the name matcher (themes, "
                  f"roles, rows) {b_after:.1f} -> {t_after:.1f} us = {b_after / t_after:.2f}x")
    return 0


class _Stages:
    """CPU time of an extractor's ``index_rows`` split in two: up to the name matcher
    (normalisation and the matcher's pass of ``Extractor._analyse``) and after it (the themes
    and roles kernel, ``_JointScan.run``, and the rows built from it): ``ok`` is False for an
    extractor without those steps (an older commit's)."""

    def __init__(self, ex):
        joint = getattr(ex, "_joint", None)
        self.ok = joint is not None and hasattr(ex, "_analyse")
        self.analyse = self.run = 0.0
        if self.ok:
            self._wrap(ex, "_analyse", ex._analyse, "analyse")
            self._wrap(joint, "run", joint.run, "run")

    def _wrap(self, obj, attr, fn, slot):
        def timed(*a, **k):
            c0 = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                setattr(self, slot, getattr(self, slot) + time.process_time() - c0)
        setattr(obj, attr, timed)          # on the instance: its class is left as it is

    def reset(self):
        self.analyse = self.run = 0.0

    def split(self, total: float) -> tuple[float, float]:
        """``(before, after)`` the name matcher of a block that took ``total``."""
        before = self.analyse - self.run
        return before, total - before


if __name__ == "__main__":
    sys.exit(main())

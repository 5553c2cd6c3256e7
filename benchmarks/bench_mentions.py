"""Benchmark: the name-matching stage of extraction (``NameMatcher.find``) and the whole
``Extractor.extract``, this tree against ``--baseline-commit`` in one process.

    .venv/bin/python benchmarks/bench_mentions.py [--articles 3000] [--baseline-commit REV]

SYNTHETIC articles of ~2,000 characters (:mod:`benchmarks.news_corpus`, ~12 mentions each) with
the real name dictionary. The baseline's ``signals`` (default: the commit this branch started
from) is loaded from ``git archive`` into this process (:func:`benchmarks.bench_news.load_baseline`);
both sides' results are checked equal first. Then, per chunk of 100 articles, the baseline and
this tree run alternately (three rounds), so that a shared machine's load falls on both alike:

1. ``normalize_text`` of each article (title line and body), what the extractor does first;
2. ``find`` on each normalised text -- the baseline's against this tree's ``find`` (``Hit``
   tuples) and ``find_spans`` (arrays; what the extractor calls); and ``find_spans`` against
   the baseline's own (``spans``; its ``find`` for a commit without one);
3. ``extract`` of each article.

Times are CPU time of this process an article; ratios are baseline / this tree.
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


def per_article(pairs, rounds: int = 3, chunk: int = 100) -> dict[str, tuple[float, float]]:
    """``{name: (baseline us, this us)}`` of ``pairs`` ``{name: (base_fn, this_fn, items)}``,
    run alternately per ``chunk`` of items, ``rounds`` times, in CPU time."""
    out = {}
    for name, (f_base, f_this, items) in pairs.items():
        t_base = t_this = 0.0
        for _ in range(rounds):
            for k in range(0, len(items), chunk):
                part = items[k:k + chunk]
                t0 = time.process_time()
                for x in part:
                    f_base(x)
                t1 = time.process_time()
                for x in part:
                    f_this(x)
                t2 = time.process_time()
                t_base += t1 - t0
                t_this += t2 - t1
        n = rounds * len(items)
        out[name] = (t_base / n * 1e6, t_this / n * 1e6)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=3000)
    ap.add_argument("--baseline-commit", default=None)
    args = ap.parse_args(argv)
    base_rev = baseline_rev(args.baseline_commit)

    from signals.articles import make_article
    from signals.extract import Extractor
    from signals.normalize import normalize_text

    master, recs = master_and_records(args.articles)
    ex = Extractor(master)
    arts = [make_article(r, origin="bench") for r in recs]
    texts, raws = [], []
    for a in arts:
        head = " ".join(a.title.splitlines())
        raws.append((f"{head}\n{a.body}", len(head)))
        texts.append(normalize_text(*raws[-1])[0])
    with tempfile.TemporaryDirectory(prefix="hypebt-bench-mentions-") as tmp:
        (BaseExtractor, base_load_master, base_make_article, _), _ = \
            baseline_or_this(base_rev, tmp)
        base = BaseExtractor(base_load_master(*NAME_FILES))
        # the baseline's normalize_text: its package's normalize module (loaded by its extractor)
        base_package = BaseExtractor.__module__.rsplit(".", 1)[0]
        base_normalize = sys.modules[f"{base_package}.normalize"].normalize_text
        base_arts = [base_make_article(r, origin="bench") for r in recs]
    for raw, keep in raws:
        want, w_index = base_normalize(raw, keep)
        got, g_index = normalize_text(raw, keep)
        if got != want or (w_index is None) != (g_index is None) or (
                w_index is not None and w_index.tolist() != g_index.tolist()):
            print(f"DIFFERENT normalize_text results from the baseline {base_rev[:7]}")
            return 1
    for t in texts:
        if base.matcher.find(t) != ex.matcher.find(t):
            print(f"DIFFERENT find results from the baseline {base_rev[:7]}")
            return 1
    for a, b in zip(arts, base_arts):
        if ex.extract(a)[1:] != base.extract(b)[1:]:
            print(f"DIFFERENT extraction from the baseline {base_rev[:7]}")
            return 1
    res = per_article({
        "normalize": (lambda r: base_normalize(*r), lambda r: normalize_text(*r), raws),
        "find": (base.matcher.find, ex.matcher.find, texts),
        "find_spans": (base.matcher.find, ex.matcher.find_spans, texts),
        "spans": (getattr(base.matcher, "find_spans", base.matcher.find), ex.matcher.find_spans,
                  texts),
        "extract": (lambda i: base.extract(base_arts[i]), lambda i: ex.extract(arts[i]),
                    list(range(len(arts)))),
    })
    print(f"{args.articles:,} SYNTHETIC articles, mean {sum(map(len, texts)) / len(texts):,.0f} "
          f"characters; baseline {base_rev[:7]}; results identical; load average "
          f"{os.getloadavg()[0]:.1f}")
    for name, (b, t) in res.items():
        what = {"find_spans": "find (baseline)", "spans": "find_spans"}.get(name, name)
        print(f"{name:11s} baseline {what:15s} {b:7.1f} us  this {t:7.1f} us  = {b / t:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

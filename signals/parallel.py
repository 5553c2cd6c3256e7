"""Extraction of many articles at once, in this process or in a pool of processes.

:func:`extract_rows` turns ``(key, title, body)`` items into plain rows (the mention index of
:mod:`backtests.data.news` stores them as they are). With ``workers > 1`` the items are cut into
chunks and extracted by that many forked processes, each holding the same compiled
:class:`~signals.extract.Extractor` (inherited at the fork, never pickled); the rows come back in
input order, identical to ``workers = 1`` (tests/test_news_archive.py checks it).
:class:`ExtractPool` keeps such a pool for many submissions (the mention index hands it one batch
while it writes the one before). The pool takes one chunk a task, so the workers share the
chunks evenly (``Pool.map`` would group ten chunks into five tasks, three for one worker and
two for the other), and it is forked once, not once per call.

Forking needs a POSIX system; elsewhere ``workers`` falls back to 1. ``dask``: a
``distributed.Client`` instead -- the extractor is pickled once and broadcast to the cluster's
workers (``scatter``), one task per chunk runs :func:`article_rows` there, and the rows are
gathered in input order, identical to a local run (tests/test_news_archive.py checks it on a
local cluster). The archive stays one SQLite file written by the client; the cluster lends CPU
to the extraction, which is what costs.
"""
from __future__ import annotations

import ctypes
import gc
import json
import multiprocessing as mp
import os
import signal
import sys
from typing import Self

from backtests.core.errors import HypebtError

_WORKER_EXTRACTOR = None          # set in the parent right before the fork; read by workers


def article_rows(extractor, items) -> list[tuple]:
    """``(key, themes_json, mentions, unknown)`` per ``(key, title, body)`` item: ``mentions``
    as ``(code, matched_text, kind, in_title, theme, role, weight)`` tuples, ``unknown`` as
    ``(text, reason)``, ``themes_json`` the JSON ``[themes, primary_theme]``
    (:meth:`signals.extract.Extractor.index_rows`)."""
    index_rows = getattr(extractor, "index_rows", None)
    if index_rows is not None:
        return index_rows(items)
    # an Extractor of an earlier commit (benchmarks/bench_news.py runs one through this
    # module's pool) has no index_rows: the same rows from its extract_text
    out = []
    for key, title, body in items:
        mentions, unknown, themes, primary = extractor.extract_text(title, body)
        out.append((key, json.dumps([list(themes), primary], ensure_ascii=False),
                    [(m.code, m.matched_text, m.kind, int(m.in_title), m.theme, m.role, m.weight)
                     for m in mentions], list(unknown)))
    return out


def _work(task, items):
    return task(_WORKER_EXTRACTOR, items)


def _die_with_parent(parent: int) -> None:
    """A worker's start (Linux): the kernel kills it when the process that forked it dies, so a
    ``kill -9`` of that process ends the workers too (an orphan would go on with its task: the
    mention index's workers write the archive).

    And the objects inherited at the fork are frozen (``gc.freeze``): the cyclic collector of
    the worker no longer walks them -- a full collection walked every object of the opening
    process (its extractor and names, a benchmark's records: ~300,000 objects) each time the
    worker's own allocations triggered one, and wrote to their pages (copied on write). In a
    process holding a second extractor that doubled the cost of an article (64 -> 134 us,
    benchmarks/bench_news.py)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)     # PR_SET_PDEATHSIG
    if os.getppid() != parent:                  # it died before that
        os._exit(1)
    gc.freeze()


class ExtractPool:
    """One pool for many extractions with the same extractor: ``workers`` processes forked once
    (the extractor inherited at the fork, never pickled), the extractor broadcast once to the
    Dask cluster of ``dask``, or this process when ``workers`` is 1 (or forking is not
    available). :meth:`submit` hands a list of items to the pool and returns at once, so the
    caller can write the rows of one submission while the next is extracted; a context manager
    (the processes end on exit). ``task(extractor, items)`` is what runs on each chunk of
    ``chunk`` items (in a worker): :func:`article_rows` unless the caller finishes the rows
    there too (a module-level function: Dask pickles it by name).

    Forked once for a whole run, not per call: a fork of a large process copies its page tables
    and the children's first writes copy pages, and a pool started per batch waits for its
    slowest chunk before the next batch starts."""

    def __init__(self, extractor, *, workers: int = 1, chunk: int = 500, dask=None,
                 task=article_rows):
        self.extractor, self.chunk, self.dask, self.task = extractor, max(1, int(chunk)), dask, task
        self.workers = max(1, min(int(workers), os.cpu_count() or 1))
        if "fork" not in mp.get_all_start_methods():
            self.workers = 1
        self.pool = self.remote = None

    def _start(self) -> None:
        """Fork the workers or broadcast the extractor (at the first submission that needs
        them: a run with nothing to extract starts nothing)."""
        global _WORKER_EXTRACTOR
        if self.dask is not None:
            self.remote = self.dask.scatter(self.extractor, broadcast=True)
            return
        _WORKER_EXTRACTOR = self.extractor
        try:
            self.pool = mp.get_context("fork").Pool(self.workers, _die_with_parent,
                                                      (os.getpid(),))
        finally:
            _WORKER_EXTRACTOR = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None

    def submit(self, items: list):
        """Start on ``items``; returns a function of no arguments that waits for the results
        of ``task`` on their chunks of ``chunk`` items and returns them, a list in input
        order (one chunk when this process does the work)."""
        chunk, task = self.chunk, self.task
        parts = [items[i:i + chunk] for i in range(0, len(items), chunk)]
        if self.dask is None and (self.workers == 1 or len(parts) < 2):
            results = [task(self.extractor, items)]
            return lambda: results
        if self.pool is None and self.remote is None:
            self._start()
        if self.remote is not None:
            futures = [self.dask.submit(task, self.remote, part, pure=False, retries=2)
                       for part in parts]
            return lambda: self.dask.gather(futures)
        pending = [self.pool.apply_async(_work, (task, part)) for part in parts]
        return lambda: [r.get() for r in pending]


def extract_rows(extractor, items: list, *, workers: int = 1, chunk: int = 500,
                 dask=None) -> list[tuple]:
    """:func:`article_rows` of ``items``, over ``workers`` processes when > 1, or over the
    Dask cluster of the ``distributed.Client`` ``dask`` (one :class:`ExtractPool` for this
    call: for many calls, keep one pool)."""
    if not items:
        return []
    with ExtractPool(extractor, workers=workers, chunk=chunk, dask=dask) as pool:
        return [row for part in pool.submit(items)() for row in part]


def dask_client(address: str, workers: int = 2):
    """``(client, cluster)`` for ``--dask ADDRESS``: ``"local"`` starts a
    ``distributed.LocalCluster`` of ``workers`` single-threaded processes (``cluster`` is then
    to be closed after the client), else connects to the scheduler at ``address``."""
    try:
        import distributed  # optional extra (hypebt[dask]): loaded only for a Dask extraction
    except ImportError:
        raise HypebtError("--dask needs the optional Dask extra: pip install hypebt[dask]") from None
    if address == "local":
        cluster = distributed.LocalCluster(n_workers=max(1, workers), threads_per_worker=1,
                                           processes=True, dashboard_address=":0")
        return distributed.Client(cluster), cluster
    try:
        return distributed.Client(address, timeout="20s"), None
    except (OSError, TimeoutError, ValueError) as exc:
        raise HypebtError(f"--dask {address}: cannot connect to the Dask scheduler ({exc}); "
                          "expected an address like tcp://host:8786 or 'local'") from None

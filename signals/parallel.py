"""Extraction of many articles at once, in this process or in a pool of processes.

:func:`extract_rows` turns ``(key, title, body)`` items into plain rows (the mention index of
:mod:`backtests.data.news` stores them as they are). With ``workers > 1`` the items are cut into
chunks and extracted by that many forked processes, each holding the same compiled
:class:`~signals.extract.Extractor` (inherited at the fork, never pickled); the rows come back in
input order, identical to ``workers = 1`` (tests/test_news_archive.py checks it).

Forking needs a POSIX system; elsewhere ``workers`` falls back to 1. ``dask``: a
``distributed.Client`` instead -- the extractor is pickled once and broadcast to the cluster's
workers (``scatter``), one task per chunk runs :func:`article_rows` there, and the rows are
gathered in input order, identical to a local run (tests/test_news_archive.py checks it on a
local cluster). The archive stays one SQLite file written by the client; the cluster lends CPU
to the extraction, which is what costs.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os

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


def _work(items):
    return article_rows(_WORKER_EXTRACTOR, items)


def extract_rows(extractor, items: list, *, workers: int = 1, chunk: int = 500,
                 dask=None) -> list[tuple]:
    """:func:`article_rows` of ``items``, over ``workers`` processes when > 1, or over the
    Dask cluster of the ``distributed.Client`` ``dask``."""
    global _WORKER_EXTRACTOR
    if dask is not None:
        if not items:
            return []
        remote = dask.scatter(extractor, broadcast=True)
        futures = [dask.submit(article_rows, remote, items[i:i + chunk], pure=False, retries=2)
                   for i in range(0, len(items), chunk)]
        return [row for part in dask.gather(futures) for row in part]
    workers = max(1, min(int(workers), os.cpu_count() or 1))
    if workers == 1 or len(items) <= chunk or "fork" not in mp.get_all_start_methods():
        return article_rows(extractor, items)
    chunks = [items[i:i + chunk] for i in range(0, len(items), chunk)]
    _WORKER_EXTRACTOR = extractor
    try:
        with mp.get_context("fork").Pool(workers) as pool:
            parts = pool.map(_work, chunks)
    finally:
        _WORKER_EXTRACTOR = None
    return [row for part in parts for row in part]


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

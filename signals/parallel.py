"""Extraction of many articles at once, in this process or in a pool of processes.

:func:`extract_rows` turns ``(key, title, body)`` items into plain rows (the mention index of
:mod:`backtests.data.news` stores them as they are). With ``workers > 1`` the items are cut into
chunks and extracted by that many forked processes, each holding the same compiled
:class:`~signals.extract.Extractor` (inherited at the fork, never pickled); the rows come back in
input order, identical to ``workers = 1`` (tests/test_news_archive.py checks it).

Forking needs a POSIX system; elsewhere ``workers`` falls back to 1. A Dask path (for archives
spread over machines) is not built: an archive is one SQLite file on one machine, and two local
processes already saturate the 2-core machine this is tuned on.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os

_WORKER_EXTRACTOR = None          # set in the parent right before the fork; read by workers


def article_rows(extractor, items) -> list[tuple]:
    """``(key, themes_json, mentions, unknown)`` per ``(key, title, body)`` item: ``mentions``
    as ``(code, matched_text, kind, in_title, theme, role, weight)`` tuples, ``unknown`` as
    ``(text, reason)``, ``themes_json`` the JSON ``[themes, primary_theme]``."""
    out = []
    for key, title, body in items:
        mentions, unknown, themes, primary = extractor.extract_text(title, body)
        out.append((key, json.dumps([list(themes), primary], ensure_ascii=False),
                    [(m.code, m.matched_text, m.kind, int(m.in_title), m.theme, m.role, m.weight)
                     for m in mentions], list(unknown)))
    return out


def _work(items):
    return article_rows(_WORKER_EXTRACTOR, items)


def extract_rows(extractor, items: list, *, workers: int = 1, chunk: int = 500) -> list[tuple]:
    """:func:`article_rows` of ``items``, over ``workers`` processes when > 1."""
    global _WORKER_EXTRACTOR
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

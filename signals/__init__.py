"""News articles -> stock and theme mentions -> event roles -> per-session entry marks.

Public surface::

    from signals import build_marks, analyze, read_articles
    marks = build_marks(["news.jsonl"], master)          # DataFrame date, code, score, ...

See ``docs/signals.md`` for formats, time policies, matching rules, roles and scoring.
Produces plain frames; ``backtests`` turns them into results.
"""
from signals.articles import Article, read_articles
from signals.marks import SIGNAL_PARAMS, SignalResult, analyze, build_marks
from signals.sessions import entry_session

__all__ = ["SIGNAL_PARAMS", "Article", "SignalResult", "analyze", "build_marks", "entry_session",
           "read_articles"]

"""``hypebt signals``: the stocks, themes and roles that news articles name, the session each
maps to, and the entry marks they make.

    hypebt signals ../shared/data/news/doubao_concept_20241216.json \\
        --names ../shared/data/ashare_names_20250418.csv ../shared/data/ashare_codes_names_listdates_2023.csv
    hypebt signals demo                      # the SYNTHETIC demo articles on the demo names
    hypebt signals --data STORE              # the store's news archive (news/articles.jsonl)

Prints, in order: one row per mention (``article_id, published, session, code, name,
matched_text, theme, role, weight``), the marks (``date, code, name, score, first_mention,
n_articles, theme, theme_heat, role, entry``), the unknown names (listed, never guessed) and
notes (bare dates, converted time zones, stripped HTML, articles naming no stock, skipped and
duplicate records). Without ``--names`` the names come from the store given by ``--data`` when it
has them, else from the SYNTHETIC demo market. See ``docs/signals.md``.
"""
from __future__ import annotations

import csv
import io
import json
import math
import sys
import unicodedata

from backtests.core.errors import ConfigError, DataError
from backtests.data.load import stock_master
from backtests.data.store import Store, is_store
from signals.demo import DEMO_ARTICLES
from signals.extract import Extractor
from signals.marks import analyze
from signals.mentions import load_matching
from signals.roles import load_roles
from signals.themes import load_themes

HELP = "stocks, themes and roles named in news articles, their sessions and entry marks"
FORMATS = ("table", "csv", "json")

MENTION_OUT = ("article_id", "published", "session", "code", "name", "matched_text", "theme",
               "role", "weight")
MARK_OUT = ("date", "code", "name", "score", "first_mention", "n_articles", "theme", "theme_heat",
            "role", "entry")
UNKNOWN_OUT = ("article_id", "text", "reason")


def add_arguments(p) -> None:
    p.add_argument("files", nargs="*", metavar="FILE",
                   help='article files or folders (JSON, JSONL, CSV, Markdown), or "demo"')
    p.add_argument("--names", nargs="+", default=None, metavar="FILE",
                   help="names file(s) code,name[,list_date]; the first gives current names, later "
                        "ones add former names (default: the store's names, else the demo names)")
    p.add_argument("--data", default=None, metavar="PATH",
                   help="a hypebt store: its names (unless --names) and, when no FILE is given, "
                        "its news archive")
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default table)")
    p.add_argument("--intraday", choices=("next_open", "same_close"), default="next_open",
                   help="news published 09:30-15:00: next session's open (default) or that close")
    p.add_argument("--bare-date", choices=("next_open", "same_day_open", "error"),
                   default="next_open",
                   help="articles dated without a time: next session (default), that day, or error")
    p.add_argument("--min-score", type=float, default=0.5, help="drop marks below this (default 0.5)")
    p.add_argument("--roles", nargs="+", default=None, metavar="ROLE",
                   help="roles that count towards the score (default: all)")
    p.add_argument("--skip-bad", action="store_true",
                   help="skip articles with a missing/bad time or no text, and JSON Lines lines "
                        "that are not JSON (counted in the notes)")
    p.add_argument("--themes", default=None, metavar="TOML", help="theme lexicon (default: built in)")
    p.add_argument("--role-rules", default=None, metavar="TOML", help="role rules (default: built in)")
    p.add_argument("--matching", default=None, metavar="TOML",
                   help="name-matching guards (default: built in)")


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table(cols, rows, numeric) -> str:
    widths = [max([_width(c)] + [_width(r[i]) for r in rows]) for i, c in enumerate(cols)]

    def line(values):
        parts = []
        for i, v in enumerate(values):
            pad = " " * (widths[i] - _width(v))
            parts.append(pad + v if cols[i] in numeric else v + pad)
        return "  ".join(parts).rstrip()

    return "\n".join([line(cols)] + [line(r) for r in rows]) + "\n"


def _csv(cols, rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    w.writerows(rows)
    return buf.getvalue()


def _published(ts, bare: bool) -> str:
    return ts.strftime("%Y-%m-%d") if bare else ts.strftime("%Y-%m-%d %H:%M")


def _rows(result):
    bare = {s.article.id: s.article.bare_date for s in result.articles}
    mentions = [(r.article_id, _published(r.published, bare[r.article_id]),
                 r.session.strftime("%Y-%m-%d") + ("" if r.entry == "open" else " close"),
                 r.code, r.name, r.matched_text, r.theme, r.role, f"{r.weight:.2f}")
                for r in result.mentions.itertuples(index=False)]
    marks = [(r.date.strftime("%Y-%m-%d"), r.code, r.name, f"{r.score:.3f}",
              "yes" if r.first_mention else "no", str(r.n_articles), r.theme, str(r.theme_heat),
              r.role, r.entry) for r in result.marks.itertuples(index=False)]
    unknown = [tuple(map(str, r)) for r in result.unknown.itertuples(index=False)]
    notes = [f"{aid}: {note}" for aid, note in result.notes]
    notes += [f"skipped: {msg}" for msg in result.skipped]
    if result.duplicates:
        notes.append(f"{result.duplicates} duplicate article(s) (same id or url) ignored")
    return mentions, marks, unknown, notes


def _master(args):
    """``(master, synthetic)``: :func:`backtests.data.load.stock_master` of ``--names`` or the
    ``--data`` store; the SYNTHETIC demo names when neither gives one."""
    if args.data and not is_store(args.data):
        raise DataError(f"--data {args.data}: not a hypebt store (no manifest.json); create one "
                        "with `hypebt data import FILE`, or give --names FILE")
    master = stock_master(args.names or (), store=args.data or None)
    if master is not None:
        return master, False
    return stock_master(demo=True), True


def _has_text(path) -> bool:
    """The file exists and holds more than white space (read up to its first such line)."""
    try:
        with open(path, "rb") as fh:  # bytes: the article reader reports text that is not UTF-8
            return any(line.strip() for line in fh)
    except FileNotFoundError:
        return False


def _items(args):
    if args.files == ["demo"]:
        return [DEMO_ARTICLES]
    if args.files:
        return list(args.files)
    if args.data:                       # a store: _master has refused anything else
        news = Store.open(args.data, option="--data").news_path
        if not _has_text(news):
            raise DataError(f"--data {args.data}: the store's news archive {news} is empty; run "
                            "`hypebt news fetch` first")
        return [news]
    raise ConfigError('give article files (or "demo"), or --data STORE to read its news archive')


def run(args) -> int:

    if not math.isfinite(args.min_score):
        raise ConfigError(f"--min-score {args.min_score}: expected a finite number (default 0.5)")
    master, synthetic = _master(args)
    extractor = Extractor(master, themes=load_themes(args.themes), roles=load_roles(args.role_rules),
                          matching=load_matching(args.matching))
    result = analyze(_items(args), master, min_score=args.min_score, roles=args.roles,
                     intraday=args.intraday, bare_date=args.bare_date, skip_bad=args.skip_bad,
                     extractor=extractor)
    mentions, marks, unknown, notes = _rows(result)
    out = sys.stdout
    if args.format == "json":
        doc = {"synthetic_names": synthetic,
               "mentions": [dict(zip(MENTION_OUT, r)) for r in mentions],
               "marks": [dict(zip(MARK_OUT, r)) for r in marks],
               "unknown": [dict(zip(UNKNOWN_OUT, r)) for r in unknown],
               "notes": notes}
        for m in doc["mentions"]:
            m["weight"] = float(m["weight"])
        for m in doc["marks"]:
            m.update(score=float(m["score"]), first_mention=m["first_mention"] == "yes",
                     n_articles=int(m["n_articles"]), theme_heat=int(m["theme_heat"]))
        out.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
        return 0
    if args.format == "csv":
        out.write("# mentions\n" + _csv(MENTION_OUT, mentions))
        out.write("# marks\n" + _csv(MARK_OUT, marks))
        out.write("# unknown\n" + _csv(UNKNOWN_OUT, unknown))
        out.write("# notes\n" + "".join(f"{n}\n" for n in notes))
        return 0
    n_art = len(result.articles)
    if synthetic:
        out.write("Names: the SYNTHETIC demo market (give --names for real stocks)\n\n")
    out.write(f"Mentions: {len(mentions)} in {n_art} article(s)\n")
    if mentions:
        out.write(_table(MENTION_OUT, mentions, {"weight"}))
    out.write(f"\nMarks: {len(marks)} (min_score {args.min_score:g})\n")
    if marks:
        out.write(_table(MARK_OUT, marks, {"score", "n_articles", "theme_heat"}))
    out.write(f"\nUnknown names: {len(unknown)}\n")
    if unknown:
        out.write(_table(UNKNOWN_OUT, unknown, set()))
    if notes:
        out.write("\nNotes:\n" + "".join(f"  {n}\n" for n in notes))
    return 0

"""The extractor as it was before its batch paths (issue 13, extraction throughput), kept as the
reference that tests/test_signals_fast.py compares the extractor with: normalisation by
``str.upper``/``str.translate`` and a regex per bracket class, the name matcher's candidate loop,
code regex and unknown-name loop in Python, one TextSpans regex search per span and
RoleRules.decide per mention. It reads the rules of a live Extractor, so both sides always use
the same names, themes and roles."""
from __future__ import annotations

import bisect
import json
import re

import numpy as np

from backtests.core import rules as board_rules
from signals.extract import THEME_CLAUSE_RE, Mention
from signals.mentions import (
    _DIGITS_RE,
    _EXCHANGE_ALIASES,
    _NOT_BEFORE_CODE,
    _PREFIX_RE_CODE,
    _SUFFIX_RE_CODE,
    KIND_CODE,
    Hit,
    Unknown,
    classify_code,
)
from signals.normalize import (
    _PINYIN_RE,
    _SPACE_RE,
    _WRAP_RE,
    CHAR_MAP,
    WRAP_MIN,
    _cut,
    original_span,
)
from signals.roles import TextSpans
from signals.themes import ThemeHit
from signals.trie_nb import Trie

_MAPPED_RE = re.compile("[" + re.escape("".join(
    chr(c) for c in sorted(CHAR_MAP) if not ord("a") <= c <= ord("z"))) + "]")
_BLOCKER = "-"
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")


def normalize_text(text, keep_break=-1):
    upper = text.upper()
    if len(upper) != len(text):
        upper = text
    mapped = upper.translate(CHAR_MAP) if _MAPPED_RE.search(upper) or upper is text else upper
    spans = []
    if " " in mapped:
        spans = [m.span() for m in _SPACE_RE.finditer(mapped)]
    if "(" in mapped or "（" in mapped:
        spans += [m.span() for m in _PINYIN_RE.finditer(mapped)]
    if "\n" in mapped:
        for m in _WRAP_RE.finditer(mapped):
            i = m.start()
            line_start = mapped.rfind("\n", 0, i) + 1
            if i != keep_break and i - line_start >= WRAP_MIN:
                spans.append((i, i + 1))
    if not spans:
        return mapped, None
    keep = np.ones(len(mapped), dtype=bool)
    for a, b in spans:
        keep[a:b] = False
    return _cut(mapped, spans), np.flatnonzero(keep)


def find(m, text):
    """NameMatcher.find of matcher ``m``."""
    cands = []
    for start, end, node in m._trie.find(text).tolist():
        if node not in m._payload:
            continue                          # an unknown-name suffix only
        code, kind, guard = m._payload[node]
        if guard and not m._guard_ok(text, start, end, guard):
            continue
        cands.append((start, end, code, kind))
    taken = bytearray(len(text))
    hits = []
    cands.sort(key=lambda c: (c[0] - c[1], c[0]))
    for start, end, code, kind in cands:
        if taken.find(1, start, end) >= 0:
            continue
        taken[start:end] = b"\x01" * (end - start)
        if code != _BLOCKER:
            hits.append(Hit(start, end, code, kind, text[start:end]))
    unknown = []
    _codes(m, text, hits, unknown, taken)
    if m.rules.unknown_suffixes:
        _unknown_names(m, text, unknown, taken)
    hits.sort(key=lambda h: h.start)
    unknown.sort(key=lambda u: u.start)
    return hits, unknown


def _codes(m, text, hits, unknown, taken):
    r = m.rules
    n = len(text)
    for mt in _DIGITS_RE.finditer(text):
        start, end = mt.span()
        if end - start > 7:
            continue
        if end - start == 7:
            m._typo(text, start, end, unknown)
            continue
        code = mt.group(0)
        if end < n and text[end] in r.number_units:
            continue
        pre = _PREFIX_RE_CODE.search(text, max(0, start - 5), start)
        if pre is None and start > 0 and text[start - 1] in _NOT_BEFORE_CODE:
            continue
        suf = _SUFFIX_RE_CODE.match(text, end)
        ex = (pre.group(1) if pre else None) or (suf.group(1) if suf else None)
        exchange = _EXCHANGE_ALIASES[ex] if ex else None
        if classify_code(code, exchange) != "stock":
            continue
        if exchange is None:
            before = text[max(0, start - 8):start]
            if any(w in before for w in r.index_context) or "指数" in text[end:end + 4]:
                continue
        if pre:
            start = pre.start()
        if suf:
            end = suf.end()
        taken[start:end] = b"\x01" * (end - start)
        if code in m.codes:
            hits.append(Hit(start, end, code, KIND_CODE, text[start:end]))
        else:
            board = board_rules.BOARD_NAMES.get(board_rules.board_of(code), "unknown board")
            unknown.append(Unknown(start, end, text[start:end],
                                   f"stock code ({board}) not in the names file"))


def _unknown_names(m, text, unknown, taken):
    r = m.rules
    suffixes = Trie()
    for suf in r.unknown_suffixes:
        suffixes.add(suf)
    for suf_start, end in sorted(((a, b) for a, b, _ in suffixes.find(text).tolist()),
                                 key=lambda h: (h[1], h[0])):
        if taken[suf_start] or not r.guard_right.match(text, end):
            continue
        for n in (4, 3, 2):
            start = suf_start - n
            if start < 0 or not _CJK_RUN.fullmatch(text, start, suf_start):
                continue
            if r.unknown_left.search(text, max(0, start - 4), start) is None:
                continue
            word = text[start:end]
            if (taken.find(1, start, end) < 0 and word not in m.keys
                    and word not in r.not_stocks):
                unknown.append(Unknown(start, end, word,
                                       "company-like name not in the names file"))
                taken[start:end] = b"\x01" * (end - start)
            break


def theme_find(lex, text):
    """ThemeLexicon.find of lexicon ``lex``."""
    hits = []
    if lex._kw is not None:
        kw_theme = lex._kw_theme
        found = [(a, b, kw_theme[node]) for a, b, node in lex._kw.find(text).tolist()]
        found.sort(key=lambda f: (f[0], f[0] - f[1]))
        last = 0
        for start, end, theme in found:
            if start >= last:
                hits.append(ThemeHit(start, end, theme, text[start:end], "lexicon"))
                last = end
    n_lex = len(hits)
    for rx in lex._quoted:
        for m in rx.finditer(text):
            x = m.group(1).strip()
            if x:
                hits.append(ThemeHit(m.start(1), m.end(1), lex._canonical(x), x, "pattern"))
    if lex._marker_re is not None:
        covered = bytearray(len(text))
        for h in hits:
            covered[h.start:h.end] = b"\x01" * (h.end - h.start)
        for m in lex._marker_re.finditer(text):
            end = m.start()
            run = lex._run_re.search(text, max(0, end - lex.max_unquoted), end)
            if run is None:
                continue
            tail = lex._tail_re.search(run.group())
            if tail is None:
                continue
            cut = run.start() + tail.start()
            x = tail.group()
            if len(x) < 2 or covered.find(1, cut, end) >= 0:
                continue
            hits.append(ThemeHit(cut, end, lex._canonical(x), x, "pattern"))
    if n_lex < len(hits):
        inside = bytearray(len(text))
        for p in hits[n_lex:]:
            inside[p.start:p.end] = b"\x01" * (p.end - p.start)
        hits = hits[n_lex:] + [h for h in hits[:n_lex] if inside.find(0, h.start, h.end) >= 0]
    hits.sort(key=lambda h: (h.start, h.end))
    return hits


def theme_primary(hits, title_end):
    """ThemeLexicon.primary: the first theme in the title, else the most frequent."""
    for h in hits:
        if h.start < title_end:
            return h.theme
    if not hits:
        return ""
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    for h in hits:
        counts[h.theme] = counts.get(h.theme, 0) + 1
        first.setdefault(h.theme, h.start)
    return min(counts, key=lambda t: (-counts[t], first[t]))


def index_rows(ex, items):
    """``Extractor.index_rows`` of ``ex``'s rules: the rows built from :func:`extract_text`
    as ``signals.parallel.article_rows`` built them before."""
    out = []
    for key, title, body in items:
        mentions, unknown, themes, primary = extract_text(ex, title, body)
        out.append((key, json.dumps([list(themes), primary], ensure_ascii=False),
                    [(m.code, m.matched_text, m.kind, int(m.in_title), m.theme, m.role, m.weight)
                     for m in mentions], list(unknown)))
    return out


def extract_text(ex, title: str, body: str):
    """``Extractor.extract_text`` of ``ex``'s rules, the plain way."""
    head = ' '.join(title.splitlines())
    raw = f"{head}\n{body}"
    text, index = normalize_text(raw, keep_break=len(head))
    title_end = text.find("\n")
    title_end = len(text) if title_end < 0 else title_end
    hits, unknown = find(ex.matcher, text)
    theme_hits = theme_find(ex.themes, text)
    primary = theme_primary(theme_hits, title_end)
    theme_pos = [h.start for h in theme_hits]
    cache: dict = {}
    mentions = []
    spans = TextSpans(text, (title_end,))
    for h in hits:
        sent = spans.sentence(h.start, h.end)
        role, weight = ex.roles.decide(spans, h.start, h.end, sent, cache)
        theme = primary
        clause = spans.around(h.start, h.end, THEME_CLAUSE_RE, *sent)
        lo = bisect.bisect_left(theme_pos, clause[0])
        hi = bisect.bisect_left(theme_pos, clause[1])
        if hi > lo:
            near = min(theme_hits[lo:hi], key=lambda t: abs(t.start - h.start))
            theme = near.theme
        a, b = original_span(index, h.start, h.end)
        mentions.append(Mention(h.code, raw[a:b], h.kind, h.start < title_end, theme, role,
                                weight, text[sent[0]:sent[1]].strip()))
    unk = []
    for u in unknown:
        a, b = original_span(index, u.start, u.end)
        unk.append((raw[a:b], u.reason))
    seen: dict[str, None] = {}
    for t in theme_hits:
        seen.setdefault(t.theme, None)
    return tuple(mentions), tuple(unk), tuple(seen), primary

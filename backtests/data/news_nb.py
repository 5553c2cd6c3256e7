"""The news import's hot path in numba: JSON Lines records already in the archive's own form,
parsed from their UTF-8 bytes without building a Python string for their texts.

:func:`scan_lines` reads one piece of a JSON Lines file (whole lines) and classifies each line:
:data:`BLANK` (only white space: skipped by the reader), :data:`FAST` (one JSON object whose keys
are fields of the archive -- ``id published source url title body``, each once, unescaped -- and
whose values are all strings, title and body *plain*: valid UTF-8, every character printable or a
line break, no HTML hint ``<`` or ``&``, no ``![``, no doubled space, no space beside a line
break, no three line breaks in a row, nothing to strip at either end, not both empty), or
:data:`OTHER` (anything else: the general reader decides, with its notes and errors). A FAST
line's field values are written unescaped (UTF-8) to ``out`` and the content-hash input -- title
and body with spaces and line breaks deleted, joined by a NUL byte -- to ``hs``: exactly what
:func:`backtests.data.news.fast_row_bytes` computes from ``json.loads`` of the line (tests check
it on random lines of tricky characters). The checks that need Python's own parsers -- the time
(ISO 8601 at +08:00) and the non-empty stripped id -- stay in Python, on the short fields.
"""
from __future__ import annotations

import numpy as np
from numba import njit

BLANK, FAST, OTHER = 0, 1, 2
# The fields in the column order of scan_lines' result (columns 3 + 2 f, 4 + 2 f).
FIELDS = ("id", "published", "source", "url", "title", "body")
NAMES = np.zeros((len(FIELDS), 9), dtype=np.uint8)
NAME_LEN = np.array([len(f) for f in FIELDS], dtype=np.int64)
for _k, _f in enumerate(FIELDS):
    NAMES[_k, :len(_f)] = np.frombuffer(_f.encode(), dtype=np.uint8)
RESULT_COLUMNS = 3 + 2 * len(FIELDS) + 2      # start, end, status, fields, hash input

_TABLE: list = []


def printable_table() -> np.ndarray:
    """One byte per code point: 1 for a character that plain text may hold (``str.isprintable``
    or the line break). Built once per process (~0.2 s)."""
    if not _TABLE:
        table = np.frombuffer(bytes(chr(c).isprintable() for c in range(0x110000)), dtype=np.uint8)
        table = table.copy()
        table[10] = 1
        _TABLE.append(table)
    return _TABLE[0]


@njit(cache=True)
def _ws(buf, p, e):
    while p < e and (buf[p] == 32 or buf[p] == 9 or buf[p] == 13):
        p += 1
    return p


@njit(cache=True)
def _hex4(buf, p, e):
    """The value of 4 hex digits at ``p`` (-1 if not)."""
    if p + 4 > e:
        return -1
    v = 0
    for i in range(4):
        c = buf[p + i]
        if 48 <= c <= 57:
            d = c - 48
        elif 97 <= c <= 102:
            d = c - 87
        elif 65 <= c <= 70:
            d = c - 55
        else:
            return -1
        v = v * 16 + d
    return v


@njit(cache=True)
def _put(out, op, cp):
    """Write code point ``cp`` as UTF-8 at ``out[op]``; the new ``op``."""
    if cp < 0x80:
        out[op] = cp
        return op + 1
    if cp < 0x800:
        out[op] = 0xC0 | (cp >> 6)
        out[op + 1] = 0x80 | (cp & 0x3F)
        return op + 2
    if cp < 0x10000:
        out[op] = 0xE0 | (cp >> 12)
        out[op + 1] = 0x80 | ((cp >> 6) & 0x3F)
        out[op + 2] = 0x80 | (cp & 0x3F)
        return op + 3
    out[op] = 0xF0 | (cp >> 18)
    out[op + 1] = 0x80 | ((cp >> 12) & 0x3F)
    out[op + 2] = 0x80 | ((cp >> 6) & 0x3F)
    out[op + 3] = 0x80 | (cp & 0x3F)
    return op + 4


@njit(cache=True)
def _parse(buf, s, e, printable, names, name_len, out, op, hs, hp, row):
    """Parse the line ``buf[s:e]`` (without its line break) into ``row`` (fields from column 3);
    ``(status, op, hp)`` after it."""
    op0, hp0 = op, hp
    p = _ws(buf, s, e)
    if p >= e or buf[p] != 123:                         # {
        return OTHER, op0, hp0
    p = _ws(buf, p + 1, e)
    seen = 0
    while True:
        if p >= e or buf[p] != 34:                      # a key (an empty object is OTHER too)
            return OTHER, op0, hp0
        p += 1
        ks = p
        while p < e and buf[p] != 34:
            if buf[p] == 92 or buf[p] < 32:
                return OTHER, op0, hp0
            p += 1
        if p >= e:
            return OTHER, op0, hp0
        klen = p - ks
        f = -1
        for k in range(names.shape[0]):
            if name_len[k] == klen:
                same = True
                for i in range(klen):
                    if buf[ks + i] != names[k, i]:
                        same = False
                        break
                if same:
                    f = k
                    break
        if f < 0 or (seen >> f) & 1:                    # another field, or twice
            return OTHER, op0, hp0
        seen |= 1 << f
        p = _ws(buf, p + 1, e)
        if p >= e or buf[p] != 58:                      # :
            return OTHER, op0, hp0
        p = _ws(buf, p + 1, e)
        if p >= e or buf[p] != 34:                      # a string value only
            return OTHER, op0, hp0
        p += 1
        text = f >= 4
        start = op
        prev1 = -1                                      # the last two characters
        prev2 = -1
        while True:
            if p >= e:
                return OTHER, op0, hp0
            c = buf[p]
            if c == 34:
                p += 1
                break
            if c < 32:                                  # json.loads refuses control characters
                return OTHER, op0, hp0
            if c == 92:
                if p + 1 >= e:
                    return OTHER, op0, hp0
                d = buf[p + 1]
                if d == 34 or d == 92 or d == 47:
                    cp = d
                    p += 2
                elif d == 110:
                    cp = 10
                    p += 2
                elif d == 117:
                    cp = _hex4(buf, p + 2, e)
                    if cp < 0:
                        return OTHER, op0, hp0
                    p += 6
                    if 0xD800 <= cp <= 0xDBFF:
                        if p + 1 >= e or buf[p] != 92 or buf[p + 1] != 117:
                            return OTHER, op0, hp0
                        lo = _hex4(buf, p + 2, e)
                        if lo < 0xDC00 or lo > 0xDFFF:
                            return OTHER, op0, hp0
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                        p += 6
                    elif 0xDC00 <= cp <= 0xDFFF:
                        return OTHER, op0, hp0
                else:                                   # \b \f \r \t: not plain; others: bad
                    return OTHER, op0, hp0
                op = _put(out, op, cp)
            elif c < 0x80:
                cp = c
                out[op] = c
                op += 1
                p += 1
            else:                                       # well-formed UTF-8 only
                if 0xC2 <= c <= 0xDF:
                    n, cp, lo, hi = 1, c & 0x1F, 0x80, 0xBF
                elif 0xE0 <= c <= 0xEF:
                    n, cp = 2, c & 0x0F
                    lo = 0xA0 if c == 0xE0 else 0x80
                    hi = 0x9F if c == 0xED else 0xBF
                elif 0xF0 <= c <= 0xF4:
                    n, cp = 3, c & 0x07
                    lo = 0x90 if c == 0xF0 else 0x80
                    hi = 0x8F if c == 0xF4 else 0xBF
                else:
                    return OTHER, op0, hp0
                if p + n >= e:
                    return OTHER, op0, hp0
                for i in range(1, n + 1):
                    b = buf[p + i]
                    if i == 1:
                        if b < lo or b > hi:
                            return OTHER, op0, hp0
                    elif b < 0x80 or b > 0xBF:
                        return OTHER, op0, hp0
                    cp = (cp << 6) | (b & 0x3F)
                for i in range(n + 1):
                    out[op + i] = buf[p + i]
                op += n + 1
                p += n + 1
            if text:
                if printable[cp] == 0 or cp == 60 or cp == 38:          # < &
                    return OTHER, op0, hp0
                if cp == 91 and prev1 == 33:                            # ![
                    return OTHER, op0, hp0
                if cp == 32 or cp == 10:
                    if prev1 == -1 or prev1 == 32 or (cp == 32 and prev1 == 10):
                        return OTHER, op0, hp0                          # lead, "  ", "\n "
                    if cp == 10 and prev1 == 10 and prev2 == 10:
                        return OTHER, op0, hp0                          # "\n\n\n", " \n"
                prev2 = prev1
                prev1 = cp
        if text and (prev1 == 32 or prev1 == 10):                       # trailing
            return OTHER, op0, hp0
        row[3 + 2 * f] = start
        row[4 + 2 * f] = op
        p = _ws(buf, p, e)
        if p < e and buf[p] == 44:                      # ,
            p = _ws(buf, p + 1, e)
            continue
        if p < e and buf[p] == 125:                     # }
            p += 1
            break
        return OTHER, op0, hp0
    if _ws(buf, p, e) != e or (seen & 3) != 3:          # extra data; no id or time
        return OTHER, op0, hp0
    for f in range(len(name_len)):
        if not (seen >> f) & 1:
            row[3 + 2 * f] = op
            row[4 + 2 * f] = op
    if row[11] == row[12] and row[13] == row[14]:       # no title and no body
        return OTHER, op0, hp0
    row[15] = hp
    for k in range(row[11], row[12]):
        if out[k] != 32 and out[k] != 10:
            hs[hp] = out[k]
            hp += 1
    hs[hp] = 0
    hp += 1
    for k in range(row[13], row[14]):
        if out[k] != 32 and out[k] != 10:
            hs[hp] = out[k]
            hp += 1
    row[16] = hp
    return FAST, op, hp


@njit(cache=True)
def scan_lines(buf, printable, names, name_len):
    """``(result, out, hs)`` of the lines of ``buf``: one row of :data:`RESULT_COLUMNS` int64 a
    line (byte start and end of the line with its break, status, the six fields' start and end in
    ``out``, the hash input's start and end in ``hs``)."""
    n = len(buf)
    lines = 0
    for i in range(n):
        if buf[i] == 10:
            lines += 1
    if n and buf[n - 1] != 10:
        lines += 1
    res = np.zeros((lines, RESULT_COLUMNS), dtype=np.int64)
    out = np.empty(n, dtype=np.uint8)
    hs = np.empty(n + lines, dtype=np.uint8)
    op = 0
    hp = 0
    pos = 0
    li = 0
    while pos < n:
        e = pos
        while e < n and buf[e] != 10:
            e += 1
        end = e + 1 if e < n else n
        row = res[li]
        row[0] = pos
        row[1] = end
        blank = True
        for k in range(pos, e):
            c = buf[k]
            if not (c == 32 or 9 <= c <= 13 or 28 <= c <= 31):
                blank = False
                break
        if blank:
            row[2] = BLANK
        else:
            status, op, hp = _parse(buf, pos, e, printable, names, name_len, out, op, hs, hp, row)
            row[2] = status
        pos = end
        li += 1
    return res, out[:op], hs[:hp]


__all__ = ["BLANK", "FAST", "FIELDS", "NAMES", "NAME_LEN", "OTHER", "printable_table",
           "scan_lines"]

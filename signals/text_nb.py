"""Numba kernels over a text's code points (``uint32``, from ``str.encode("utf-32-le")``):
character mapping and digit runs, each one pass instead of a regex or ``str`` method per
character class (Python's regex engine tests a character class one character at a time)."""
from __future__ import annotations

import numpy as np
from numba import njit


class LastText:
    """``convert(text)`` remembered for the last text asked for: the extractor's steps each
    convert the same normalised text. One ``(text, result)`` tuple, replaced whole, so threads
    sharing it never see a text with another text's result."""

    def __init__(self, convert):
        self._convert = convert
        self._last: tuple = (None, None)

    def __call__(self, text: str):
        last = self._last
        if last[0] is text:
            return last[1]
        out = self._convert(text)
        self._last = (text, out)
        return out

    def seed(self, text: str, out) -> None:
        """Remember ``out`` as ``convert(text)`` (the caller made it another way: it must be
        equal, and read-only as ``np.frombuffer`` gives it)."""
        self._last = (text, out)


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


#: ``text`` as a ``uint32`` array of code points (lone surrogates kept as theirs); the codes,
#: unknown-name, theme and span steps share it.
code_points = LastText(_code_points)


@njit(cache=True)
def map_units_nb(units, table, multi):
    """``(table[units], ok)``; ``ok`` is False when a unit is outside the BMP or flagged in
    ``multi`` (the caller then takes its plain path)."""
    n = units.shape[0]
    out = np.empty(n, dtype=np.uint32)
    for i in range(n):
        u = units[i]
        if u > 0xFFFF or multi[u]:
            return out, False
        out[i] = table[u]
    return out, True


@njit(cache=True)
def digit_runs_nb(units, decimal, min_len):
    """``([K, 2] int64 (start, end), ok)``: every maximal run of at least ``min_len`` decimal
    digits (``decimal``: a flag per BMP code point), i.e. what ``re.finditer(r"\\d{min_len,}")``
    finds; ``ok`` is False when the text holds a character outside the BMP (not looked up)."""
    n = units.shape[0]
    out = np.empty((n // max(min_len, 1) + 1, 2), dtype=np.int64)
    k = 0
    i = 0
    while i < n:
        if units[i] > 0xFFFF:
            return out[:0], False
        if decimal[units[i]]:
            j = i + 1
            while j < n and units[j] <= 0xFFFF and decimal[units[j]]:
                j += 1
            if j - i >= min_len:
                out[k, 0] = i
                out[k, 1] = j
                k += 1
            i = j
        else:
            i += 1
    return out[:k], True


@njit(cache=True)
def cjk_before_nb(units, positions, cap):
    """For each position, how many characters right before it are CJK unified ideographs
    (U+4E00..U+9FFF, the class ``[\\u4e00-\\u9fff]``), counting back at most ``cap``."""
    out = np.empty(positions.shape[0], dtype=np.int64)
    for k in range(positions.shape[0]):
        p = positions[k]
        c = 0
        while c < cap and p - c - 1 >= 0 and 0x4E00 <= units[p - c - 1] <= 0x9FFF:
            c += 1
        out[k] = c
    return out


@njit(cache=True)
def leftmost_longest_nb(occ):
    """Row indices of ``occ`` (``(start, end, node)`` sorted by start, then end, as
    :func:`signals.trie_nb.scan_nb` gives them) taken leftmost first, the longest at a start,
    none overlapping one taken before: what a regex alternation of the keys, longest first,
    finds with ``finditer``."""
    m = occ.shape[0]
    out = np.empty(m, dtype=np.int64)
    k = 0
    last = 0
    i = 0
    while i < m:
        j = i
        while j + 1 < m and occ[j + 1, 0] == occ[i, 0]:
            j += 1                    # the last row of this start is the longest
        if occ[j, 0] >= last:
            out[k] = j
            k += 1
            last = occ[j, 1]
        i = j + 1
    return out[:k]


@njit(cache=True)
def unquoted_nb(units, ends, max_len, stop, any_stop):
    """``[K, 2]`` int64: for each marker position ``end``, the span ``(cut, stop_at)`` of the
    theme name before it, or ``(-1, -1)``. ``stop_at`` is ``end`` (or ``end - 1`` when a line
    break precedes the marker: ``$`` matches before a final line break) and the name is
    ``_run_re = [\\u4e00-\\u9fffA-Z0-9]+$`` searched in ``[end - max_len, end)`` then cut after
    its last stop character (``stop``: flags per BMP code point; ``any_stop`` False: no stop
    characters, ``.+$``, no cut)."""
    out = np.full((ends.shape[0], 2), -1, dtype=np.int64)
    for k in range(ends.shape[0]):
        end = ends[k]
        lo = max(0, end - max_len)
        if end <= lo:
            continue
        e = end
        if not _run_char(units[end - 1]):
            if units[end - 1] == 10 and end - 2 >= lo and _run_char(units[end - 2]):
                e = end - 1
            else:
                continue
        p = e - 1
        while p - 1 >= lo and _run_char(units[p - 1]):
            p -= 1
        q = p
        if any_stop:
            if units[e - 1] <= 0xFFFF and stop[units[e - 1]]:
                continue
            q = e - 1
            while q - 1 >= p and not (units[q - 1] <= 0xFFFF and stop[units[q - 1]]):
                q -= 1
        out[k, 0] = q
        out[k, 1] = e
    return out


@njit(cache=True)
def _run_char(u):
    return 0x4E00 <= u <= 0x9FFF or 65 <= u <= 90 or 48 <= u <= 57


@njit(cache=True)
def nearest_in_span_nb(points, at, lo, hi):
    """For each k, the index of the first of the sorted ``points`` inside ``[lo[k], hi[k])``
    nearest to ``at[k]`` (the first of equally near ones), or -1 when none lies there."""
    out = np.full(at.shape[0], -1, dtype=np.int64)
    m = points.shape[0]
    for k in range(at.shape[0]):
        best = -1
        dist = 0
        a = np.searchsorted(points, lo[k])
        for j in range(a, m):
            if points[j] >= hi[k]:
                break
            d = abs(points[j] - at[k])
            if best < 0 or d < dist:
                best = j
                dist = d
        out[k] = best
    return out


#: Flags of ``flagged`` (:func:`normalize_nb`) above a character's mapped code point: the
#: mapped character is one a later rule looks at (a space, a line break, an opening bracket);
#: the character is a surrogate; as itself, in the pinyin letter class; in the tone class; its
#: upper case is longer (the text takes the plain path).
MAP_SPECIAL, MAP_SURROGATE, MAP_PINYIN, MAP_TONE = 1 << 16, 1 << 17, 1 << 18, 1 << 19
MAP_MULTI = 1 << 31


@njit(cache=True, inline="always")
def any_set_nb(flags, lo, hi):
    """Whether any of ``flags[lo:hi]`` is set (a span that overlaps one already taken)."""
    for j in range(lo, hi):
        if flags[j]:
            return True
    return False


@njit(cache=True, inline="always")
def _cjk(c):
    return 0x4E00 <= c <= 0x9FFF


@njit(cache=True)
def normalize_into_nb(units, flagged, keep_break, wrap_min, out, out16, index):
    """``(m, n_cut, ok, same, bmp16)``: what :func:`signals.normalize.normalize_text` makes of a
    text's code points ``units``, written to ``out[:m]``/``out16[:m]`` (its code points as
    ``uint32`` and its UTF-16 units, meaningful when ``bmp16``, i.e. no surrogate code point is
    in it) and, when ``n_cut`` characters were removed, the original position of each to
    ``index[:m]`` (the three at least ``len(units)`` long) -- the character map
    (``flagged[u] & 0xFFFF``, with the ``MAP_*`` flags above) and what its regexes remove from
    the mapped text:

    - every character of a run of spaces that touches a non-ASCII character before or after it
      (after the map every white space but the line break is ``' '``: the map sends every other
      ``str.isspace`` character there, so a run of ``[^\\S\\n]`` is a run of spaces);
    - a line break between two CJK unified ideographs ending a line of ``wrap_min`` characters
      or more (not at ``keep_break``);
    - pinyin in brackets after a CJK unified ideograph: ``(`` or ``（``, a run of characters in
      the pinyin letter class (``MAP_PINYIN``), one at least a tone mark (``MAP_TONE``), then
      ``)`` or ``）``.

    ``same``: the map changed no character. ``ok`` False: a character is outside the BMP or
    ``MAP_MULTI``, and the caller takes its regex path (nothing written is meaningful).

    One tight pass maps every character and notes (in ``index``, free until the end) where a
    mapped character is ``MAP_SPECIAL`` (a space, a line break, ``(`` or ``（``); the rules
    visit only those positions, and the removed characters are squeezed out in place only when
    there are some."""
    n = units.shape[0]
    at = index                                # where a mapped character is MAP_SPECIAL
    n_at = 0
    seen = np.uint32(0)
    diff = np.uint32(0)
    for i in range(n):
        u = units[i]
        if u > 0xFFFF:
            return 0, 0, False, False, False
        m = flagged[u]
        seen |= m
        c = m & 0xFFFF
        diff |= c ^ u
        out[i] = c
        out16[i] = c
        if m & MAP_SPECIAL:
            at[n_at] = i
            n_at += 1
    if seen & MAP_MULTI:
        return 0, 0, False, False, False
    same = diff == 0
    bmp16 = not seen & MAP_SURROGATE
    if n_at == 0:
        return n, 0, True, same, bmp16
    keep = np.ones(n, dtype=np.uint8)
    n_cut = 0
    line_start = 0
    done = 0                                  # the rules have read up to here
    for a in range(n_at):
        i = at[a]
        if i < done:
            continue
        c = out[i]
        cut_to = i                            # removed: [i, cut_to)
        if c == 0x20:
            j = i + 1
            while j < n and out[j] == 0x20:
                j += 1
            if (i > 0 and out[i - 1] > 0x7F) or (j < n and out[j] > 0x7F):
                cut_to = j
            done = j
        elif c == 0x0A:
            if (i != keep_break and i - line_start >= wrap_min and i > 0 and i + 1 < n
                    and _cjk(out[i - 1]) and _cjk(out[i + 1])):
                cut_to = i + 1
            line_start = i + 1
        elif i > 0 and _cjk(out[i - 1]):      # ( or （
            j = i + 1
            tone = 0
            while j < n and flagged[out[j]] & MAP_PINYIN:
                tone |= flagged[out[j]] & MAP_TONE
                j += 1
            if tone and j < n and (out[j] == 0x29 or out[j] == 0xFF09):
                cut_to = j + 1
                done = cut_to
        for t in range(i, cut_to):
            keep[t] = 0
        n_cut += cut_to - i
    if n_cut == 0:
        return n, 0, True, same, bmp16
    w = 0
    for i in range(n):                        # in place: w <= i
        if keep[i]:
            out[w] = out[i]
            out16[w] = out16[i]
            index[w] = i
            w += 1
    return w, n_cut, True, same, bmp16


@njit(cache=True)
def normalize_all_nb(units, sizes, flagged, wrap_min):
    """:func:`normalize_into_nb` of many texts in one call, end to end: ``sizes`` holds the
    texts' lengths, then each one's ``keep_break`` (where its title ends); text ``a``'s code
    points are ``units[bounds[a]:bounds[a + 1]]``, ``bounds`` the lengths' running sums.
    Returns ``(out, out16, index, meta)``, the results end to end: ``meta[0]`` where each text's
    code points start in ``out`` and ``out16`` (``meta[0, a]:meta[0, a + 1]``), ``meta[1]`` its
    index's in ``index`` (none when nothing was cut), ``meta[2, a]`` its state: bit 1 ``ok``, 2
    ``same``, 4 ``bmp16``, 8 something was cut; ``meta[3, a]``: where its first line break is (its
    length when it has none: the end of the title). A text that is not ``ok`` has no code points in
    ``out`` (the caller takes its regex path)."""
    n_art = sizes.shape[0] // 2
    total = units.shape[0]
    out = np.empty(total, dtype=np.uint32)
    out16 = np.empty(total, dtype=np.uint16)
    index = np.empty(total, dtype=np.int64)
    meta = np.zeros((4, n_art + 1), dtype=np.int64)
    o = 0
    x = 0
    u1 = 0
    for a in range(n_art):
        u0 = u1
        u1 = u0 + sizes[a]
        m, n_cut, ok, same, bmp16 = normalize_into_nb(
            units[u0:u1], flagged, sizes[n_art + a], wrap_min, out[o:o + u1 - u0],
            out16[o:o + u1 - u0], index[x:x + u1 - u0])
        if ok:
            end = m
            for i in range(m):
                if out[o + i] == 10:
                    end = i
                    break
            meta[3, a] = end
            o += m
            if n_cut:
                x += m
            meta[2, a] = 1 | (2 if same else 0) | (4 if bmp16 else 0) | (8 if n_cut else 0)
        meta[0, a + 1] = o
        meta[1, a + 1] = x
    return out[:o], out16[:o], index[:x], meta

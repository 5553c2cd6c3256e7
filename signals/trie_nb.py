"""A dictionary scan in numba: every occurrence of every key of a trie in a UTF-16 text.

Replaces pyahocorasick for the name and theme dictionaries (profiling showed its iteration and
the Python loop over its results at about half of the extraction time). The trie's edges live
in one open-addressing hash table keyed by ``node << 16 | code unit``, each slot one int64
``key << 24 | child`` (one memory access a step); :func:`scan_nb` walks it
from every position whose first code unit starts some key (``first``: the root's children, one
look-up per position), so the cost is the
number of positions times the depth actually walked -- a few steps in Chinese text.

Positions are UTF-16 code units; :class:`Trie` replaces characters outside the BMP by U+FFFD
first, so unit ``i`` is character ``i`` (no name or keyword holds one). Results are
all ``(start, end, node)`` triples -- the same set pyahocorasick's ``iter`` reports -- ordered by
start, then end.
"""
from __future__ import annotations

import re

import numpy as np
from numba import njit

from signals.text_nb import LastText, leftmost_longest_nb

_ASTRAL_RE = re.compile("[\U00010000-\U0010FFFF]")
MAX_NODES = 1 << 24           # a child's id fits the low 24 bits of a hash-table slot
# Flags of a BMP unit in scan_nb's ``chars`` (the name matcher's, signals.mentions_nb): a decimal
# digit, U+FFFD or another unit the caller cannot take, the first unit of some key (bit 1 is
# the matcher's CHAR_UNIT).
CHAR_DIGIT, CHAR_BAD, CHAR_KEY = 1, 4, 8


@njit(cache=True)
def _slot_nb(key, mask):
    return np.int64((np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)) & mask


@njit(cache=True)
def child_nb(edges, node, unit):
    """The child of ``node`` by code unit ``unit`` in the hash table ``edges``, -1 when it has
    none."""
    mask = edges.shape[0] - 1
    key = (np.int64(node) << 16) | np.int64(unit)
    s = _slot_nb(key, mask)
    while edges[s] != -1:
        if edges[s] >> 24 == key:
            return np.int64(edges[s] & 0xFFFFFF)
        s = (s + 1) & mask
    return -1


@njit(cache=True)
def _pair_bit_nb(a, b):
    """The bit of the code units ``a b`` in a pair filter (16 bits of a multiplicative hash)."""
    return np.int64(((np.uint64(a) << np.uint64(16) | np.uint64(b))
                     * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(48))


@njit(cache=True)
def _has_bit_nb(bits, row, h):
    return (bits[row, h >> 3] >> (h & 7)) & 1


@njit(cache=True)
def scan_nb(units, first, edges, terminal, bits, max_len, out, chars=None, runs=None):
    """All key occurrences in ``units`` (uint16); ``out`` is an int64 ``[K, 3]`` buffer of
    ``(start, end, node)`` rows. ``first[u]`` is the root's child for code unit ``u`` (-1: no
    key starts with it); ``bits`` two filters of 65,536 bits that most positions stop at
    (in cache, unlike the tables): row 0 the pairs of units some key of 2+ units starts with
    (:func:`_pair_bit_nb`; a set bit may be another pair's), row 1 the units that are a key.
    Returns ``(rows, n_runs)``, ``rows`` -1 when ``out`` is too small.

    With ``chars`` (uint8 flags per BMP unit, :data:`CHAR_DIGIT` ...) the
    same pass also checks that the text is plain for the name matcher and finds its digit
    runs (:func:`signals.mentions_nb.find_nb`; ``units`` code points then): the runs of 6 or 7
    digits written to ``runs``, their number returned, -1 when a unit is outside the BMP or
    flagged :data:`CHAR_BAD` (the scan stops there); and only positions whose unit is flagged
    :data:`CHAR_KEY` (some key starts with it: ``first`` >= 0) are looked up, the rest skipped
    with one load. Without ``chars``, ``n_runs`` is 0 (numba compiles the checks out)."""
    n = units.shape[0]
    k = n_runs = 0
    digits = -1                                          # where the current digit run started
    for i in range(n):
        u = units[i]
        key = 1                                          # whether a key may start here
        if chars is not None:
            c = chars[u] if u <= 0xFFFF else CHAR_BAD
            if c & CHAR_BAD:
                return k, -1
            if c & CHAR_DIGIT:
                if digits < 0:
                    digits = i
            elif digits >= 0:
                if 6 <= i - digits <= 7:
                    runs[n_runs, 0] = digits
                    runs[n_runs, 1] = i
                    n_runs += 1
                digits = -1
            key = (c >> 3) & 1                           # CHAR_KEY (no branch of its own)
        if k < 0:
            continue                                     # (out too small: only the checks)
        if i + 1 >= n or not (_has_bit_nb(bits, 0, _pair_bit_nb(u, units[i + 1])) & key):
            if _has_bit_nb(bits, 1, np.int64(u)):        # only a one-unit key can start here
                if k >= out.shape[0]:
                    k = -1
                    continue
                out[k, 0] = i
                out[k, 1] = i + 1
                out[k, 2] = first[u]
                k += 1
            continue
        node = np.int64(first[u])
        if node < 0:
            continue
        if terminal[node]:
            if k >= out.shape[0]:
                k = -1
                continue
            out[k, 0] = i
            out[k, 1] = i + 1
            out[k, 2] = node
            k += 1
        for j in range(i + 1, min(n, i + max_len)):
            child = child_nb(edges, node, units[j])
            if child < 0:
                break
            node = child
            if terminal[node]:
                if k >= out.shape[0]:
                    k = -1
                    break
                out[k, 0] = i
                out[k, 1] = j + 1
                out[k, 2] = node
                k += 1
    if chars is not None and digits >= 0 and 6 <= n - digits <= 7:
        runs[n_runs, 0] = digits
        runs[n_runs, 1] = n
        n_runs += 1
    return k, n_runs


@njit(cache=True)
def scan_all_nb(units, first, edges, terminal, bits, max_len):
    """:func:`signals.trie_nb.scan_nb` into a buffer of its own size (grown as needed)."""
    out = np.empty((max(256, units.shape[0] // 4), 3), dtype=np.int64)
    while True:
        k = scan_nb(units, first, edges, terminal, bits, max_len, out)[0]
        if k >= 0:
            return out[:k]
        out = np.empty((2 * out.shape[0], 3), dtype=np.int64)


@njit(cache=True)
def scan_leftmost_nb(units, first, edges, terminal, bits, max_len):
    """The rows of :func:`scan_all_nb` that :func:`signals.text_nb.leftmost_longest_nb`
    keeps (leftmost, then longest, none overlapping)."""
    occ = scan_all_nb(units, first, edges, terminal, bits, max_len)
    return occ[leftmost_longest_nb(occ)]


@njit(cache=True)
def stable_order_nb(key):
    """``np.argsort(key, kind="mergesort")`` (stable), by insertion for a few keys (an
    article's candidates: no allocation beyond the result, no merge passes)."""
    m = key.shape[0]
    if m > 64:
        return np.argsort(key, kind="mergesort")
    order = np.empty(m, dtype=np.int64)
    for i in range(m):
        j = i
        while j > 0 and key[order[j - 1]] > key[i]:
            order[j] = order[j - 1]
            j -= 1
        order[j] = i
    return order


@njit(cache=True)
def longest_first_nb(occ, keep, n):
    """``(kept, taken)``: the rows of ``occ`` (``(start, end, node)``, :func:`scan_nb`) flagged in
    ``keep`` taken longest first, then leftmost, each dropped when it overlaps one taken before
    (row indices in the order taken), and a uint8 ``[n]`` with 1 where a taken row lies."""
    m = occ.shape[0]
    key = np.empty(m, dtype=np.int64)
    for i in range(m):
        key[i] = (occ[i, 0] - occ[i, 1]) * (n + 1) + occ[i, 0]
    order = stable_order_nb(key)
    taken = np.zeros(n, dtype=np.uint8)
    kept = np.empty(m, dtype=np.int64)
    k = 0
    for i in order:
        if not keep[i]:
            continue
        s, e = occ[i, 0], occ[i, 1]
        free = True
        for j in range(s, e):
            if taken[j]:
                free = False
                break
        if not free:
            continue
        taken[s:e] = 1
        kept[k] = i
        k += 1
    return kept[:k], taken


def _utf16(text: str) -> np.ndarray:
    data = text.encode("utf-16-le", "surrogatepass")
    if len(data) != 2 * len(text):
        data = _ASTRAL_RE.sub("\ufffd", text).encode("utf-16-le", "surrogatepass")
    return np.frombuffer(data, dtype=np.uint16)


#: The UTF-16 units of the last text scanned: the name, suffix, theme, marker and role tries all
#: scan the same normalised text (:func:`signals.normalize.normalize_text` seeds it).
utf16_units = LastText(_utf16)


class Trie:
    """Keys (strings) -> a trie scanned by :func:`scan_nb`; :meth:`add` returns each key's node
    id, which :meth:`find` reports."""

    def __init__(self):
        self._edges: dict[tuple[int, int], int] = {}
        self._terminal: set[int] = set()
        self._n = 1
        self.max_len = 0
        self._built = None

    def add(self, key: str) -> int:
        node = 0
        units = np.frombuffer(_ASTRAL_RE.sub("\ufffd", key).encode("utf-16-le"), dtype=np.uint16)
        for u in units:
            nxt = self._edges.get((node, int(u)))
            if nxt is None:
                nxt = self._edges[(node, int(u))] = self._n
                self._n += 1
            node = nxt
        self._terminal.add(node)
        self.max_len = max(self.max_len, len(units))
        self._built = None
        return node

    @property
    def n_nodes(self) -> int:
        """Node ids run from 0 (the root) to ``n_nodes - 1``."""
        return self._n

    def _build(self):
        if self._n > MAX_NODES:
            raise ValueError(f"a trie of {self._n} nodes: at most {MAX_NODES} fit its table")
        size = 1 << max(4, (2 * len(self._edges) + 1).bit_length())
        edges = np.full(size, -1, dtype=np.int64)
        first = np.full(65536, -1, dtype=np.int32)      # the root's children, direct
        mask = size - 1
        for (node, u), child in self._edges.items():
            key = (node << 16) | u
            s = int(_slot_nb(key, mask))
            while edges[s] != -1:
                s = (s + 1) & mask
            edges[s] = (key << 24) | child
            if node == 0:
                first[u] = child
        terminal = np.zeros(self._n, dtype=np.bool_)
        terminal[list(self._terminal)] = True
        bits = np.zeros((2, 8192), dtype=np.uint8)     # the filters of scan_nb
        first_unit = {child: u for (node, u), child in self._edges.items() if node == 0}
        for child, u in first_unit.items():
            if terminal[child]:
                bits[1, u >> 3] |= 1 << (u & 7)
        for node, u in self._edges:
            if node in first_unit:
                h = int(_pair_bit_nb(first_unit[node], u))
                bits[0, h >> 3] |= 1 << (h & 7)
        self._built = (first, edges, terminal, bits)
        return self._built

    def tables(self) -> tuple[np.ndarray, ...]:
        """``(first, edges, terminal, bits)``: the tables :func:`scan_nb` walks (``first``: the
        root's child per code unit, or -1; ``edges``: the hash table :func:`child_nb` reads;
        ``bits``: the filters)."""
        return self._built or self._build()

    def find(self, text: str) -> np.ndarray:
        """``[K, 3]`` int64 rows ``(start, end, node)`` of every key occurrence in ``text``."""
        first, edges, terminal, bits = self._built or self._build()
        # a buffer of this call's own (made in the kernel): the trie is shared by the threads
        # of a Dask worker, and a returned view of a shared buffer would change under its reader
        return scan_all_nb(utf16_units(text), first, edges, terminal, bits, self.max_len)

    def find_leftmost(self, text: str) -> np.ndarray:
        """The rows of :meth:`find` taken leftmost, then longest, none overlapping one taken
        before (:func:`signals.text_nb.leftmost_longest_nb`): what a regex alternation of the
        keys, longest first, finds with ``finditer``."""
        first, edges, terminal, bits = self._built or self._build()
        return scan_leftmost_nb(utf16_units(text), first, edges, terminal, bits, self.max_len)


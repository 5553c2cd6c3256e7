"""signals.trie_nb: the numba dictionary scan reports exactly every occurrence of every key."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from signals.trie_nb import Trie

ALPHABET = "中国平安华为科技股份涨停A1😀\n"


def brute(keys, text):
    return sorted((i, i + len(k), k) for k in set(keys) for i in range(len(text))
                  if text.startswith(k, i))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(ALPHABET, min_size=1, max_size=5), min_size=1, max_size=12),
       st.text(ALPHABET, max_size=60))
def test_scan_finds_every_occurrence(keys, text):
    trie = Trie()
    ids = {trie.add(k): k for k in keys}
    # an astral character is one unit (U+FFFD) in both keys and text: positions stay characters
    got = sorted((a, b, ids[n]) for a, b, n in trie.find(text).tolist())
    assert got == brute(keys, text)


def test_output_buffer_grows():
    trie = Trie()
    node = trie.add("涨")
    rows = trie.find("涨" * 1000)
    assert rows.shape == (1000, 3) and set(rows[:, 2].tolist()) == {node}

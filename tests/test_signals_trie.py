"""signals.trie_nb: the numba dictionary scan reports exactly every occurrence of every key."""
from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signals.trie_nb import Trie, stable_order_nb

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
    rows = trie.find(text).tolist()
    assert rows == sorted(rows)                 # by start, then end
    got = sorted((a, b, ids[n]) for a, b, n in rows)
    assert got == brute(keys, text)


@pytest.mark.parametrize("seed", range(10))
def test_many_keys(seed):
    """Thousands of keys over a few hundred characters: many pairs share a filter bit (a set
    bit that is another pair's sends the scan to the tables, which say no)."""
    rng = random.Random(seed)
    chars = [chr(0x4E00 + k) for k in range(300)]
    keys = {"".join(rng.choice(chars) for _ in range(rng.randint(1, 4))) for _ in range(4000)}
    keys = sorted(k for k in keys if len(k) > 1 or rng.random() < 0.02)
    trie = Trie()
    ids = {trie.add(k): k for k in keys}
    text = "".join(rng.choice(chars) for _ in range(400))
    rows = trie.find(text).tolist()
    assert rows == sorted(rows)
    assert sorted((a, b, ids[n]) for a, b, n in rows) == brute(keys, text)


def test_output_buffer_grows():
    trie = Trie()
    node = trie.add("涨")
    rows = trie.find("涨" * 1000)
    assert rows.shape == (1000, 3) and set(rows[:, 2].tolist()) == {node}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-5, 5), max_size=80))
def test_stable_order_is_mergesort(keys):
    key = np.array(keys, dtype=np.int64)
    assert stable_order_nb(key).tolist() == np.argsort(key, kind="mergesort").tolist()

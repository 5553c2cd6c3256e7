"""The array scoring of signals.marks (kernels in signals.marks_nb) gives exactly the marks of
the reference per-mention Python implementation it replaced (kept here), on random inputs."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from numba import njit
from numba.core.errors import TypingError

from backtests.core.calendar import trading_calendar
from signals.articles import Article
from signals.extract import ArticleSignals, Mention
from signals.marks import MARK_COLUMNS, pack_results, round10, score_marks, score_packed
from signals.marks_nb import copy_bytes


def reference_score_marks(results, sessions, calendar, names, *, min_score, roles, half_life,
                          title_multiplier, seen_before=frozenset()):
    """signals.marks.score_marks as it was before the array kernels (quadratic decay)."""
    heat: Counter = Counter()
    contrib: dict = {}
    for sig in sorted(results, key=lambda s: (s.article.published, s.article.id)):
        session, entry = sessions[sig.article.id]
        for theme in sig.themes:
            heat[(session, theme)] += 1
        per_code: dict = {}
        for m in sig.mentions:
            if roles is None or m.role in roles:
                per_code.setdefault(m.code, []).append(m)
        for code, ms in per_code.items():
            neg = min(ms, key=lambda m: m.weight)
            best = neg if neg.weight < 0 else max(ms, key=lambda m: m.weight)
            value = best.weight * (title_multiplier if any(m.in_title for m in ms) else 1.0)
            theme = Counter(m.theme for m in ms if m.theme).most_common(1)
            contrib.setdefault((session, code), []).append(
                (value, best.role, theme[0][0] if theme else "", sig.article, entry))
    if not contrib:
        return None
    by_code: dict = {}
    for (session, code) in contrib:
        by_code.setdefault(code, []).append(session)
    pos = {s: i for i, s in enumerate(calendar.sessions)}
    rows = []
    for code, days in by_code.items():
        days.sort()
        idx = [pos[d] for d in days]
        raw = [sum(c[0] for c in contrib[(d, code)]) for d in days]
        for j, day in enumerate(days):
            if half_life > 0:
                score = sum(raw[k] * 0.5 ** ((idx[j] - idx[k]) / half_life) for k in range(j + 1))
            else:
                score = raw[j]
            if score < min_score:
                continue
            items = contrib[(day, code)]
            themes = Counter(c[2] for c in items if c[2])
            theme = min(themes, key=lambda t: (-themes[t], t)) if themes else ""
            strongest = max(items, key=lambda c: abs(c[0]))
            first = items[0][3]
            rows.append((np.datetime64(day, "ns"), code, names[code],
                         round(score, 10), j == 0 and code not in seen_before, len(items), theme,
                         heat.get((day, theme), 0) if theme else 0, strongest[1],
                         "open" if any(c[4] == "open" for c in items) else "close",
                         ";".join(c[3].id for c in items), first.title,
                         first.published.isoformat()))
    if not rows:
        return None
    frame = pd.DataFrame(rows, columns=list(MARK_COLUMNS))
    frame = frame.sort_values(["date", "score", "code"], ascending=[True, False, True])
    frame["date"] = frame["date"].astype("datetime64[ns]")
    frame["n_articles"] = frame["n_articles"].astype(np.int64)
    frame["theme_heat"] = frame["theme_heat"].astype(np.int64)
    return frame.reset_index(drop=True)


ROLES = (("momentum", 1.0), ("risk", -1.0), ("cooperation", 0.8), ("broker", 0.6),
         ("catalyst", 0.5), ("mention", 0.3), ("source", 0.0), ("odd", 0.1 + 0.2))
THEMES = ("豆包", "AI眼镜", "固态电池", "谷子经济", "")


def random_case(seed: int, n_articles: int):
    rng = np.random.default_rng(seed)
    cal = trading_calendar()
    sessions_pool = cal.sessions[(cal.sessions >= np.datetime64("2024-01-02"))][:60]
    codes = [f"{c:06d}" for c in rng.choice(999_999, 12, replace=False)]
    names = {c: f"名{c}" for c in codes}
    results, sessions = [], {}
    base = pd.Timestamp("2024-01-02 08:00", tz="Asia/Shanghai")
    for i in range(n_articles):
        aid = f"a{int(rng.integers(0, 10 * n_articles)):05d}-{i}"
        # equal publication times on purpose: ties are broken by id
        pub = base + pd.Timedelta(minutes=int(rng.integers(0, 40)) * 30)
        ms = []
        for _ in range(int(rng.integers(0, 7))):
            role, weight = ROLES[int(rng.integers(len(ROLES)))]
            if rng.random() < 0.2:
                weight = float(rng.normal())
            ms.append(Mention(codes[int(rng.integers(len(codes)))], "x", "name",
                              bool(rng.random() < 0.3), THEMES[int(rng.integers(len(THEMES)))],
                              role, weight, ""))
        themes = tuple(dict.fromkeys(t for t in rng.choice(THEMES, 3) if t))
        art = Article(id=aid, published=pub, title=f"标题{i}", body="")
        results.append(ArticleSignals(art, tuple(ms), (), themes, themes[0] if themes else ""))
        day = sessions_pool[int(rng.integers(len(sessions_pool)))]
        sessions[aid] = (day, "open" if rng.random() < 0.7 else "close")
    return results, sessions, cal, names, codes


@pytest.mark.parametrize("seed", range(12))
def test_array_scoring_is_identical_to_the_reference(seed):
    results, sessions, cal, names, codes = random_case(seed, 20 + 15 * seed)
    rng = np.random.default_rng(100 + seed)
    for opts in ({"min_score": 0.5, "roles": None, "half_life": 2.0, "title_multiplier": 1.5},
                 {"min_score": -10.0, "roles": None, "half_life": 0.0, "title_multiplier": 1.0},
                 {"min_score": 0.65, "roles": None, "half_life": 1.0, "title_multiplier": 1.0},
                 {"min_score": 0.0, "roles": {"momentum", "risk", "odd"}, "half_life": 0.7,
                      "title_multiplier": 2},
                 {"min_score": 0.3, "roles": {"mention"}, "half_life": 3, "title_multiplier": 1.5,
                      "seen_before": frozenset(rng.choice(codes, 4).tolist())}):
        want = reference_score_marks(results, sessions, cal, names, **opts)
        got = score_marks(results, sessions, cal, names, **opts)
        if want is None:
            assert got.empty and list(got.columns) == list(MARK_COLUMNS)
            continue
        assert not got.empty
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert got.to_csv(index=False) == want.to_csv(index=False)


def test_no_mentions_and_all_filtered():
    results, sessions, cal, names, _ = random_case(3, 30)
    got = score_marks(results, sessions, cal, names, min_score=0.5, roles={"nothing"},
                      half_life=2.0, title_multiplier=1.5)
    assert got.empty and list(got.columns) == list(MARK_COLUMNS)
    assert score_marks([], {}, cal, names, min_score=0.5, roles=None, half_life=2.0,
                       title_multiplier=1.5).empty


def test_round10_is_pythons_round():
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(0, 3, 200_000), rng.normal(0, 1e6, 20_000),
                        np.round(rng.normal(0, 3, 50_000), 10) + 5e-11,       # halves
                        np.round(rng.normal(0, 3, 50_000), 11),
                        [0.0, -0.0, 0.5, 1.00000000005, -2.50000000005, 1e300, -1e-300]])
    got = round10(x)
    want = np.array([round(v, 10) for v in x.tolist()])
    assert np.array_equal(got.view(np.int64), want.view(np.int64))


@pytest.mark.parametrize("seed", range(4))
def test_window_and_arrow_texts_give_the_reference_rows(seed):
    """score_packed with a session window and with ids/titles as pandas str arrays (how the
    archive's packed index hands them over): the reference marks of those sessions."""
    results, sessions, cal, names, _ = random_case(seed, 80 + 20 * seed)
    opts = {"min_score": 0.3, "roles": None, "half_life": 2.0, "title_multiplier": 1.5}
    want = reference_score_marks(results, sessions, cal, names, **opts)
    packed = pack_results(results, sessions, cal)
    arrow = packed._replace(ids=pd.array(packed.ids.tolist(), dtype="str"),
                            titles=pd.array(packed.titles.tolist(), dtype="str"))
    lo, hi = int(packed.session.min()) + 5, int(packed.session.max()) - 5
    days = want["date"].to_numpy().astype("datetime64[D]")
    inside = (days >= cal.sessions[lo]) & (days <= cal.sessions[hi])
    want = want.loc[inside].reset_index(drop=True)
    for p in (packed, arrow):
        got = score_packed(p, cal, names, window=(lo, hi), **opts)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert got.to_csv(index=False) == want.to_csv(index=False)


def test_unique_and_iso_kernels_are_numpys():
    from signals import marks as sm
    rng = np.random.default_rng(2)
    for v in (rng.integers(-1, 50, 1000), rng.integers(0, 10 ** 9, 100), np.array([5]),
              np.zeros(0, np.int64)):
        got, want = sm._unique(v), np.unique(v, return_inverse=True)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    epoch = np.concatenate([rng.integers(sm.ISO_MIN_S, sm.ISO_MAX_S, 100_000),
                            [sm.ISO_MIN_S, sm.ISO_MAX_S, 0, -1, 951_753_600, 951_839_999,
                             sm.ISO_MIN_S - 1, 1_700_000_000]])
    # runs of one Beijing day and its midnights: the kernel reuses a day's date while it repeats
    runs = np.concatenate([np.sort(rng.integers(1_699_977_600, 1_700_409_600, 20_000)),
                           1_699_977_600 + 86_400 * np.arange(-1, 6).repeat(2) - [1, 0] * 7,
                           rng.integers(sm.ISO_MIN_S, sm.ISO_MAX_S, 1000).repeat(3)])
    assert list(sm._iso_texts(runs)) == sm._iso_beijing(runs).tolist()
    modern = np.array([0, -1, 951_753_600, 951_839_999, 1_700_000_000])
    want = [pd.Timestamp(int(t), unit="s", tz="UTC").tz_convert("Asia/Shanghai").isoformat()
            for t in modern.tolist()]
    assert list(sm._iso_texts(modern)) == want
    assert list(sm._iso_texts(epoch)) == sm._iso_beijing(epoch).tolist()


def test_joined_texts_kernel_is_the_arrow_join():
    """article_id / title texts joined by the kernel: Python's ';'.join, any UTF-8 width."""
    from signals import marks as sm
    rng = np.random.default_rng(4)
    words = ["a", "", "ü𝄞", "标题é", "x;y", "\x00z"] + [f"id{k}" for k in range(50)]
    texts = pd.array([words[k] for k in rng.integers(0, len(words), 300)], dtype="str")
    items = rng.integers(0, 300, 1000)
    n = rng.integers(0, 6, 250)
    n[-1] = 1000 - n[:-1].sum() if n[:-1].sum() < 1000 else 0
    n = n[np.cumsum(n) <= 1000]
    start = np.concatenate(([0], np.cumsum(n)[:-1])).astype(np.int64)
    got = sm._joined(texts, items, start, n)
    obj = np.asarray(list(texts), dtype=object)
    want = [";".join(obj[items[s:s + k]]) for s, k in zip(start.tolist(), n.tolist())]
    assert list(got) == want and str(got.dtype) == "str"
    assert list(sm._joined(obj, items, start, n)) == want     # object texts: the Arrow path
    taken = sm._taken(texts, items)
    assert list(taken) == obj[items].tolist() and str(taken.dtype) == "str"
    # the archive's types (int32 items, starts and counts), long texts (one memcpy each, of
    # any length), empty texts and no texts at all
    long = [w * 300 for w in words[:6]] + ["標" * 5000]
    big = pd.array([long[k] for k in rng.integers(0, len(long), 40)], dtype="str")
    items32 = rng.integers(0, 40, 120).astype(np.int32)
    n32 = np.array([0, 1, 3, 116], np.int32)
    start32 = np.array([0, 0, 1, 4], np.int32)
    want = [";".join(np.asarray(list(big), dtype=object)[items32[s:s + k]])
            for s, k in zip(start32.tolist(), n32.tolist())]
    assert list(sm._joined(big, items32, start32, n32)) == want
    none = np.zeros(0, np.int32)
    assert list(sm._joined(big, none, none, none)) == []
    assert list(sm._joined(pd.array([""], dtype="str"), np.zeros(3, np.int32),
                           np.array([0, 1], np.int32), np.array([1, 2], np.int32))) == ["", ";"]
    assert list(sm._str_take(["", "ü𝄞", "a"], [2, 0, 1, 1])) == ["a", "", "ü𝄞", "ü𝄞"]



def test_copy_bytes_copies_and_takes_only_contiguous_bytes():
    """``copy_bytes`` (the joins' memcpy): the span it is given, nothing around it; arrays of
    another type or layout are a typing error, not a wrong copy."""
    @njit
    def copy(dst, at, src, lo, count):
        copy_bytes(dst, at, src, lo, count)

    src = np.frombuffer("ab标题é𝄞".encode(), np.uint8)
    dst = np.zeros(20, np.uint8)
    copy(dst, 3, src, 2, 6)
    assert dst.tolist() == [0] * 3 + src[2:8].tolist() + [0] * 11
    copy(dst, 0, src, 0, 0)
    assert dst[:3].tolist() == [0, 0, 0]
    with pytest.raises(TypingError):
        copy(dst[::2], 0, src, 0, 1)
    with pytest.raises(TypingError):
        copy(dst.astype(np.int32), 0, src, 0, 1)


def test_mark_order_is_a_stable_sort_by_session_score_descending_rank():
    """The rows' order: numpy's stable sorts by rank, then -score, then session (what the frame
    needs), with equal scores (ties broken by rank), -0.0 = 0.0, NaN last, rows grouped by
    session (as the cells kernel writes them)."""
    from signals import marks as sm
    from signals.marks_nb import mark_order_nb
    rng = np.random.default_rng(9)
    for n, spread in ((0, 3), (1, 3), (7, 3), (3000, 3), (3000, 50), (20_000, 1)):
        sess = np.sort(rng.integers(5, 30, n))
        score = np.round(rng.normal(0, 1, n), 1) if spread > 1 else rng.normal(0, 1, n)
        score[rng.random(n) < 0.05] = np.nan
        score[rng.random(n) < 0.05] = -0.0
        score[rng.random(n) < 0.05] = 0.0
        rank = np.empty(n, np.int64)
        for s in np.unique(sess):          # distinct within a session
            at = np.flatnonzero(sess == s)
            rank[at] = rng.permutation(len(at) * spread)[:len(at)]    # dense or sparse
        want = np.argsort(rank, kind="stable")
        want = want[np.argsort(-score[want], kind="stable")]
        want = want[np.argsort(sess[want], kind="stable")]
        got = np.full(n, -1, np.int64)
        mark_order_nb(sess, sm._descending_key(score), rank, got)
        assert got.tolist() == want.tolist()

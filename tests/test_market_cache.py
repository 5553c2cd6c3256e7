"""Market cache: a hit equals a fresh build (arrays and warnings), any change of an input, a
load option or the rule tables misses, --no-cache bypasses it, two builders at once and a
writer killed mid-way leave a usable cache, a damaged entry is rebuilt."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from backtests.core import rules
from backtests.cli.main import main
from backtests.core.errors import DataWarning, HypebtError
from backtests.data import cache as mc
from backtests.data import load as load_mod
from backtests.data.load import load_market

REPO = Path(__file__).resolve().parents[1]

# Two stocks over four sessions; 000001 closes 5.80 on 03-05, so its
# 03-06 high 7.00 is above the limit-up 6.38 computed from 5.80: one DataWarning per load.
PANEL = """code,date,open,high,low,close,volume,amount
600000,2024-03-01,10.00,10.00,10.00,10.00,1000000,10000000
600000,2024-03-04,10.20,11.00,10.10,11.00,1000000,10600000
600000,2024-03-05,11.50,12.10,11.30,11.80,1000000,11800000
600000,2024-03-06,11.60,11.90,11.40,11.50,1000000,11500000
000001,2024-03-01,5.00,5.00,5.00,5.00,1000000,5000000
000001,2024-03-04,5.50,5.50,5.50,5.50,1000000,5500000
000001,2024-03-05,5.60,5.80,5.40,5.80,1000000,5500000
000001,2024-03-06,5.50,7.00,5.40,5.50,1000000,5500000
"""


@pytest.fixture()
def cache(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("HYPEBT_CACHE_DIR", str(root))
    monkeypatch.delenv("HYPEBT_NO_CACHE", raising=False)
    return root


@pytest.fixture()
def panel(tmp_path) -> Path:
    p = tmp_path / "panel.csv"
    p.write_text(PANEL, encoding="utf-8")
    return p


def _load(path, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = load_market(path, **kw)
    return m, [(w.category, str(w.message)) for w in caught]


def _entries(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if not p.name.startswith(".")) if root.exists() else []


def _same(a, b) -> None:
    for name in mc.ARRAY_FIELDS:
        x, y = np.asarray(getattr(a, name)), np.asarray(getattr(b, name))
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name
    assert a.synthetic == b.synthetic


def _no_build(*_a, **_k):
    raise AssertionError("built again although the cache holds this market")


def test_hit_equals_a_fresh_build_with_the_same_warnings(cache, panel, monkeypatch):
    fresh, w0 = _load(panel, cache=False)
    assert not cache.exists()                                  # --no-cache writes nothing
    first, w1 = _load(panel)
    assert len(_entries(cache)) == 1
    monkeypatch.setattr(load_mod, "_load_market", _no_build)
    hit, w2 = _load(panel)
    _same(fresh, first)
    _same(fresh, hit)
    assert isinstance(hit.close, np.memmap)                    # memory-mapped, not read
    assert w0 == w1 == w2 and w0 and w0[0][0] is DataWarning   # the bar above its limit
    hit.close[0, 0] = 99.0                                     # copy-on-write: the run may
    again, _ = _load(panel)                                    # write, the cache never changes
    assert again.close[0, 0] == fresh.close[0, 0]


@pytest.mark.parametrize("change", ["panel", "names", "start", "end", "drop_bad", "rules"])
def test_any_change_misses(cache, panel, tmp_path, monkeypatch, change):
    names = tmp_path / "names.csv"
    names.write_text("code,name\n600000,浦发银行\n000001,平安银行\n", encoding="utf-8")
    base, _ = _load(panel, names=[names])
    kw = {"names": [names]}
    if change == "panel":
        panel.write_text(PANEL.replace("11.60,11.90,11.40,11.50", "11.60,11.90,11.40,11.60"))
    elif change == "names":
        names.write_text("code,name\n600000,ST浦发\n000001,平安银行\n", encoding="utf-8")
    elif change == "start":
        kw["start"] = "2024-03-04"
    elif change == "end":
        kw["end"] = "2024-03-05"
    elif change == "drop_bad":
        kw["drop_bad"] = True
    else:
        monkeypatch.setattr(rules, "LIMIT_RATIO",
                            rules.LIMIT_RATIO + ((0, False, "2024-03-05", 0.2),))
    changed, _ = _load(panel, **kw)
    assert len(_entries(cache)) == 2
    uncached, _ = _load(panel, cache=False, **kw)
    _same(changed, uncached)
    if change == "panel":
        assert changed.close[-1, 1] == 11.60 and base.close[-1, 1] == 11.50
    if change == "names":
        # (is_st follows the bars now, the name being only a prior: docs/status.md; that the
        # changed names file gives the uncached market is checked by _same above)
        assert changed.names[1] == "ST浦发" and base.names[1] == "浦发银行"


def test_no_cache_env_and_unreadable_inputs(cache, panel, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HYPEBT_NO_CACHE", "1")
    _load(panel)
    assert not cache.exists()
    monkeypatch.delenv("HYPEBT_NO_CACHE")
    with pytest.raises(HypebtError):           # a missing names file: the loader's own error
        _load(panel, names=[tmp_path / "missing.csv"])
    fifo = tmp_path / "names.fifo"                 # never read by the hash (it would block)
    os.mkfifo(fifo)
    with pytest.raises(OSError):
        mc.market_key(panel, names=[fifo])


def test_damaged_entry_is_rebuilt(cache, panel):
    fresh, _ = _load(panel)
    entry = _entries(cache)[0]
    (entry / "close.npy").write_bytes(b"not an array")
    again, _ = _load(panel)
    _same(fresh, again)
    assert np.load(entry / "close.npy").shape == fresh.close.shape


def test_second_builder_keeps_the_first_entry(cache, panel):
    """The race in slow motion: a second writer of the same key finds the entry in place."""
    m, _ = _load(panel)
    entry = _entries(cache)[0]
    before = {p.name: p.read_bytes() for p in entry.iterdir()}
    mc._write(cache, entry.name, m._replace(close=m.close * 2), [])
    assert {p.name: p.read_bytes() for p in entry.iterdir()} == before
    assert [p for p in cache.iterdir() if p.name.startswith(".tmp-")] == []


_BUILDER = """
import os, sys, time, warnings
warnings.simplefilter("ignore")
from backtests.data.load import load_market
go = sys.argv[2]
while not os.path.exists(go):
    time.sleep(0.005)
m = load_market(sys.argv[1])
print(float(m.close[1, 1]))
"""


def test_concurrent_builders(cache, panel, tmp_path):
    go = tmp_path / "go"
    env = dict(os.environ, PYTHONPATH=str(REPO), HYPEBT_CACHE_DIR=str(cache))
    procs = [subprocess.Popen([sys.executable, "-c", _BUILDER, str(panel), str(go)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    time.sleep(2.0)                  # let all four import, then start them at once
    go.touch()
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [e for _, e in outs]
    assert {o.strip() for o, _ in outs} == {"11.0"}
    assert len(_entries(cache)) == 1
    assert [p for p in cache.iterdir() if p.name.startswith(".tmp-")] == []
    fresh, _ = _load(panel, cache=False)
    cached, _ = _load(panel)
    _same(fresh, cached)


_KILLED = """
import os, signal, sys, warnings
warnings.simplefilter("ignore")
import numpy as np
from backtests.data import cache as market_cache
saved = []
real_save = np.save
def save(path, arr, **kw):
    real_save(path, arr, **kw)
    saved.append(path)
    if len(saved) == 5:
        os.kill(os.getpid(), signal.SIGKILL)     # killed mid-way through writing the entry
market_cache.np.save = save
from backtests.data.load import load_market
load_market(sys.argv[1])
"""


def test_killed_writer_leaves_a_usable_cache(cache, panel):
    env = dict(os.environ, PYTHONPATH=str(REPO), HYPEBT_CACHE_DIR=str(cache))
    proc = subprocess.run([sys.executable, "-c", _KILLED, str(panel)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    leftovers = [p for p in cache.iterdir() if p.name.startswith(".tmp-")]
    assert len(leftovers) == 1 and _entries(cache) == []       # nothing a reader would open
    fresh, _ = _load(panel, cache=False)
    cached, _ = _load(panel)                                    # rebuilt, stored, correct
    _same(fresh, cached)
    assert len(_entries(cache)) == 1
    assert leftovers[0].exists()                                # young: maybe still writing
    old = time.time() - mc.STALE_TMP - 10
    os.utime(leftovers[0], (old, old))
    mc._clean(cache)
    assert not leftovers[0].exists()                            # an hour old: removed


def test_keep_evicts_the_least_recently_used(cache, panel, monkeypatch):
    monkeypatch.setattr(mc, "KEEP", 2)
    for end in ("2024-03-04", "2024-03-05", "2024-03-06"):
        _load(panel, end=end)
        time.sleep(0.02)
    assert len(_entries(cache)) == 2


def test_cli_no_cache_flags(cache, panel, tmp_path, capsys):
    (tmp_path / "marks.csv").write_text("date,code\n2024-03-04,600000\n", encoding="utf-8")
    cfg = tmp_path / "c.toml"
    cfg.write_text('[data]\npath = "panel.csv"\n[signals]\nmarks = "marks.csv"\n',
                   encoding="utf-8")
    assert main(["backtest", str(cfg), "--out", str(tmp_path / "a"), "--no-report",
                 "--no-cache"]) == 0
    assert not cache.exists()
    assert main(["backtest", str(cfg), "--out", str(tmp_path / "b"), "--no-report"]) == 0
    assert len(_entries(cache)) == 1
    for name in ("equity.csv", "trades.csv", "orders.csv", "metrics.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    out = capsys.readouterr()
    assert out.err.count("Warning: ") == 2          # the same warning, cached or not


def test_status_file_is_part_of_the_key(cache, panel, tmp_path):
    """A [data] status file changes the market (status bits, reference prices): editing it
    must miss the cache, and the status bits come back from a hit exactly."""
    status = tmp_path / "status.csv"
    status.write_text("code,date,is_st,prev_close\n600000,2024-03-05,0,\n", encoding="utf-8")
    first, _ = _load(panel, status=status)
    hit, _ = _load(panel, status=status)
    _same(first, hit)
    status.write_text("code,date,is_st,prev_close\n600000,2024-03-05,1,\n", encoding="utf-8")
    changed, _ = _load(panel, status=status)
    assert len(_entries(cache)) == 2
    uncached, _ = _load(panel, status=status, cache=False)
    _same(changed, uncached)
    assert not np.array_equal(np.asarray(first.status), np.asarray(changed.status))

"""Grids on Dask: the same rows as a local run (LocalCluster, threads and processes), a chunk
that fails is retried, a dead worker's chunk is rerun, the market is loaded once per worker,
and a clear message when Dask is not installed."""
from __future__ import annotations

import hashlib
import os
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from backtests.core.errors import HypebtError
from backtests.grid import dask as dask_grid
from backtests.grid.local import run_grid
from backtests.grid.spec import load_grid_config

distributed = pytest.importorskip("distributed", reason="Dask extra not installed "
                                                        "(pip install hypebt[dask])")

REPO = Path(__file__).resolve().parents[1]
WAIT = 60                                 # s: generous for a loaded 2-core CI box, bounded
GRID = f"""
[data]
path = "demo"
start = "2024-01-02"
end = "2024-12-31"

[signals]
marks = "{(REPO / 'configs' / 'demo_marks.csv').as_posix()}"

[strategy]
max_positions = 8

[grid]
max_hold = [2, 5, 10]
entry = ["open", "limit"]
stop_loss = [0.0, 0.05]
exit_at = ["next_open", "close"]
"""


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("dask") / "grid.toml"
    path.write_text(GRID, encoding="utf-8")
    return load_grid_config(path, train_end="2024-08-30")


@pytest.fixture(scope="module")
def local(spec):
    return run_grid(spec, workers=2)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       dashboard_address=":0",
                                       local_directory=tmp_path_factory.mktemp("dask-threads"))
    c = distributed.Client(cluster)
    c.wait_for_workers(2, timeout=WAIT)     # the chunking follows the number of workers
    yield c
    c.close()
    cluster.close()


def test_dask_equals_local(spec, local, client):
    remote = run_grid(spec, dask=client)
    pd.testing.assert_frame_equal(remote.frame, local.frame, check_exact=True)


def test_failed_chunk_is_retried(spec, local, client, monkeypatch, tmp_path):
    """Exactly one attempt fails, whichever worker runs first: the marker file is created
    atomically (O_EXCL) by the first call and by no other. Every call appends its chunk's id to
    a log in one O_APPEND write, so concurrent workers cannot lose or interleave lines."""
    log, marker = tmp_path / "calls.log", tmp_path / "failed-once"
    real = dask_grid.run_chunk_task

    def flaky(recipe, marks_key, marks, rows, split, threads):
        chunk = hashlib.sha1(rows.tobytes()).hexdigest()
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, f"{chunk}\n".encode())
        finally:
            os.close(fd)
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return real(recipe, marks_key, marks, rows, split, threads)
        os.write(fd, chunk.encode())
        os.close(fd)
        raise OSError("worker lost its disk for a moment")

    monkeypatch.setattr(dask_grid, "run_chunk_task", flaky)
    remote = run_grid(spec, dask=client)
    calls = Counter(log.read_text().split())
    failed = marker.read_text()
    # 24 sets on 2 workers: 3 chunks of 8 sets (grid.chunk_bounds); the failed one ran twice.
    assert calls[failed] == 2 and sorted(calls.values()) == [1, 1, 2]
    pd.testing.assert_frame_equal(remote.frame, local.frame, check_exact=True)


def test_market_loaded_once_per_worker(spec, monkeypatch):
    loads = []
    real = dask_grid.load_market

    def counting(*args, **kwargs):
        loads.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(dask_grid, "load_market", counting)
    dask_grid._MARKET_CACHE.clear()
    recipe = dask_grid.market_recipe(spec.cfg)
    first = dask_grid.worker_market(recipe)
    second = dask_grid.worker_market(recipe)
    assert first is second and loads == ["demo"]


def test_lost_worker_chunk_is_rerun(spec, local, tmp_path):
    """A worker process that dies mid-chunk: the scheduler reruns the chunk elsewhere."""
    marker = tmp_path / "killed-once"
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", local_directory=tmp_path)
    c = distributed.Client(cluster)
    try:
        c.wait_for_workers(2, timeout=WAIT)  # every worker gets the killer below
        c.run(_install_killer, str(marker))
        remote = run_grid(spec, dask=c)
    finally:
        c.close()
        cluster.close()
    assert marker.exists()
    pd.testing.assert_frame_equal(remote.frame, local.frame, check_exact=True)


def _install_killer(marker: str) -> None:
    """On a worker: the first chunk any worker runs kills its process (os._exit)."""
    import os

    from backtests.grid import dask as dg

    real = dg.run_chunk_task
    if getattr(real, "_killer", False):
        return

    def killer(*args):
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return real(*args)
        os.close(fd)
        os._exit(1)

    killer._killer = True
    dg.run_chunk_task = killer


def test_missing_dask_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(HypebtError, match=r"pip install hypebt\[dask\]"):
        dask_grid._require_dask()


def test_bad_address_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(dask_grid, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(HypebtError, match="cannot connect to the Dask scheduler"):
        dask_grid._client("tcp://127.0.0.1:9", None)

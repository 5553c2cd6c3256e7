"""Offline fetches give up fast, under hypebt's retry policy, with one ``Error:`` line.

No test here reaches the internet: "offline" is a proxy on a closed loopback port (every
connection refused at once) and "a host that never answers" is a loopback listener that accepts
connections and never replies. Both are set through ``HTTPS_PROXY``/``HTTP_PROXY``, which both
HTTP clients akshare uses (``requests``, ``curl_cffi``) honour, so the *real* akshare functions
run -- with their own internal retry loops (up to 10 tries and 511 s of waits in
``stock_info_global_cls``) -- and the test measures that :func:`network_guard` bounds them.
"""
from __future__ import annotations

import socket
import time

import pytest

pytest.importorskip("akshare")

from backtests.cli import main as cli
from backtests.core.errors import NetworkError
from backtests.data.akshare import AkshareSource, CallPolicy, network_guard

CALLS = {
    "cls_telegraph": ((), "www.cls.cn"),
    "stock_names": ((), "query.sse.com.cn"),
    "concept_constituents": (("算力概念",), "eastmoney.com"),
    "daily_bars": (("002354", "2024-12-02", "2024-12-05"), "push2his.eastmoney.com"),
    "stock_news": (("002354",), "search-api-web.eastmoney.com"),
}


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def offline(monkeypatch):
    """Every HTTP(S) request goes to a proxy port where nothing listens: refused at once."""
    url = f"http://127.0.0.1:{_closed_port()}"
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(var, url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)


@pytest.fixture
def silent_host(monkeypatch):
    """Every HTTP(S) request goes to a loopback listener that never answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    url = f"http://127.0.0.1:{srv.getsockname()[1]}"
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(var, url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    yield
    srv.close()


@pytest.mark.parametrize("method", sorted(CALLS))
def test_offline_call_gives_up_within_the_policy(offline, method):
    args, host = CALLS[method]
    policy = CallPolicy(interval=0, attempts=2, backoff=0.1, timeout=2.0)
    t0 = time.monotonic()
    with pytest.raises(NetworkError) as info:
        policy.call(getattr(AkshareSource(), method), *args)
    elapsed = time.monotonic() - t0
    # refused connections: akshare's own retries (with waits of 1, 2, 4 ... s) would take
    # seconds to minutes; under the guard each attempt ends at the first failed request
    assert elapsed < 2 * 2.0 + 0.1, elapsed
    msg = str(info.value)
    assert host in msg and "after 2 attempts" in msg and "\n" not in msg


@pytest.mark.parametrize("method", ["cls_telegraph", "stock_news", "daily_bars"])
def test_silent_host_hits_the_hard_timeout(silent_host, method):
    args, host = CALLS[method]
    policy = CallPolicy(interval=0, attempts=2, backoff=0.2, timeout=1.0)
    t0 = time.monotonic()
    with pytest.raises(NetworkError) as info:
        policy.call(getattr(AkshareSource(), method), *args)
    elapsed = time.monotonic() - t0
    assert 2 * 1.0 <= elapsed + 0.05 and elapsed < 2 * 1.0 + 0.2 + 1.5, elapsed
    assert host in str(info.value)


def test_guard_cuts_akshare_waits_and_restores_the_patches():
    import requests

    real_request, real_sleep = requests.Session.request, time.sleep
    t0 = time.monotonic()
    with pytest.raises(Exception) as info, network_guard(0.3):
        time.sleep(5)          # akshare's backoff wait: cut to the time left ...
        time.sleep(5)          # ... and at none left the attempt ends
    assert type(info.value).__name__ == "Unreachable"
    assert time.monotonic() - t0 < 1.5
    assert requests.Session.request is real_request and time.sleep is real_sleep


def test_default_policy_bound_is_under_30_seconds():
    p = CallPolicy()
    worst = p.attempts * p.timeout + sum(p.backoff * 2 ** k for k in range(p.attempts - 1))
    assert worst <= 30


def _cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv", [
    ["news", "fetch", "--cls"],
    ["news", "fetch", "--codes", "002354,000785"],
    ["data", "fetch", "--names"],
    ["data", "fetch", "--concept", "算力概念", "--start", "2024-12-02"],
    ["data", "fetch", "--codes", "002354,000785,600000", "--start", "2024-12-02",
     "--end", "2024-12-05", "--quiet"],
])
def test_offline_cli_fetch_is_one_error_line_and_keeps_the_store(offline, tmp_path, capsys, argv):
    store = tmp_path / "store"
    assert _cli(capsys, "data", "info", "--store", store)[0] == 2   # no store yet
    from backtests.data.store import Store
    Store.open(store, create=True)
    before = {p.name: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    t0 = time.monotonic()
    code, _, err = _cli(capsys, *argv, "--store", store, "--retries", "2", "--backoff", "0.1",
                        "--timeout", "2", "--interval", "0")
    assert time.monotonic() - t0 < 10
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "network:" in lines[0] and "Traceback" not in err, err
    after = {p.name: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    assert after == before

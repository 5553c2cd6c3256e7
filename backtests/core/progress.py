"""Progress lines on stderr for steps that can take over a second (loading a market, building
the market cache, drawing the report).

``with step("loading market panel.parquet"):`` prints ``loading market panel.parquet ...`` once
the step has run for :data:`DELAY` seconds, and ``... done in 3.2 s`` when it ends; a step
that ends sooner prints nothing. Lines go to stderr only when it is a terminal (or when
``HYPEBT_PROGRESS=1``; ``HYPEBT_PROGRESS=0`` silences them), so piped and captured output,
and every output file, stay exactly as without them.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
import time

#: Seconds a step runs before its progress line appears.
DELAY = 1.0


def enabled() -> bool:
    """Progress lines on: ``HYPEBT_PROGRESS`` if set (``0`` = off), else stderr is a terminal."""
    flag = os.environ.get("HYPEBT_PROGRESS")
    if flag is not None:
        return flag not in ("", "0")
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


@contextlib.contextmanager
def step(label: str):
    """Announce ``label`` on stderr if it is still running after :data:`DELAY` seconds."""
    if not enabled():
        yield
        return
    start = time.perf_counter()
    lock = threading.Lock()
    state = {"shown": False, "over": False}

    def show():
        with lock:
            if not state["over"]:
                state["shown"] = True
                print(f"{label} ...", file=sys.stderr, flush=True)

    timer = threading.Timer(DELAY, show)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        with lock:
            state["over"] = True
            if state["shown"]:
                print(f"{label} ... done in {time.perf_counter() - start:.1f} s",
                      file=sys.stderr, flush=True)

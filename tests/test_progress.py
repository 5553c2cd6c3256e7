"""Progress lines: shown on stderr for a step over DELAY seconds, never for a quick step, and
never unless enabled (captured output stays as without them)."""
from __future__ import annotations

import time

from backtests.core import progress


def test_slow_step_is_announced_and_timed(monkeypatch, capsys):
    monkeypatch.setenv("HYPEBT_PROGRESS", "1")
    monkeypatch.setattr(progress, "DELAY", 0.05)
    with progress.step("loading market x.parquet"):
        time.sleep(0.3)
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == "loading market x.parquet ..."
    assert lines[1].startswith("loading market x.parquet ... done in ") and lines[1].endswith(" s")


def test_quick_step_and_disabled_print_nothing(monkeypatch, capsys):
    monkeypatch.setenv("HYPEBT_PROGRESS", "1")
    monkeypatch.setattr(progress, "DELAY", 0.5)
    with progress.step("quick"):
        pass
    monkeypatch.setenv("HYPEBT_PROGRESS", "0")
    monkeypatch.setattr(progress, "DELAY", 0.0)
    with progress.step("off"):
        time.sleep(0.05)
    time.sleep(0.6)
    assert capsys.readouterr() == ("", "")


def test_off_when_stderr_is_not_a_terminal(monkeypatch):
    monkeypatch.delenv("HYPEBT_PROGRESS", raising=False)
    assert progress.enabled() is False           # pytest captures stderr: not a terminal

"""A full disk and a read-only file system for real: a tiny tmpfs mounted for the test (needs
root and permission to mount; skipped otherwise). The hostile-input suite injects the same
errors in-process everywhere; this checks the real kernel errors end the same way: one
``Error:`` line naming the file, exit 2, the store as it was."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from backtests.cli import main as cli


def _mount(path, options: str) -> bool:
    if shutil.which("mount") is None:
        return False
    path.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                         capture_output=True, check=False)
    return res.returncode == 0


@pytest.fixture
def tiny_fs(tmp_path):
    mnt = tmp_path / "mnt"
    if not _mount(mnt, "size=256k"):
        pytest.skip("cannot mount a tmpfs here (needs root and mount permission)")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True, check=False)


def _panel(path, rows: int) -> None:
    import numpy as np

    from backtests.core.calendar import trading_calendar

    days = trading_calendar().between(np.datetime64("2024-01-02"), np.datetime64("2024-12-31"))
    lines = ["code,date,open,high,low,close,volume,amount"]
    for i in range(rows):
        code = f"{600000 + i:06d}"
        lines += [f"{code},{d},10,10.5,9.5,10.1,1000,10100" for d in days]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_disk_full_during_import(tiny_fs, tmp_path, capsys):
    store = tiny_fs / "store"
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    _panel(small, 1)
    _panel(big, 400)            # ~100 KB of Parquet per file set: more than the 256 KB disk
    assert cli.main(["data", "import", str(small), "--store", str(store)]) == 0
    capsys.readouterr()
    before = _files(store)
    code = cli.main(["data", "import", str(big), "--store", str(store)])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "cannot write" in lines[0] and "No space left on device" in lines[0]
    assert ".parquet" in lines[0]
    after = _files(store)
    # stocks committed before the disk filled stay; no stored file changed, none half-written
    assert {k: v for k, v in after.items() if k in before} == before
    assert not [p for p in store.rglob(".*.tmp")]


def test_read_only_store(tmp_path, capsys):
    mnt = tmp_path / "ro"
    if not _mount(mnt, "size=256k"):
        pytest.skip("cannot mount a tmpfs here (needs root and mount permission)")
    try:
        panel = tmp_path / "p.csv"
        _panel(panel, 1)
        store = mnt / "store"
        assert cli.main(["data", "import", str(panel), "--store", str(store)]) == 0
        capsys.readouterr()
        before = _files(store)
        res = subprocess.run(["mount", "-o", "remount,ro", str(mnt)], capture_output=True,
                             check=False)
        if res.returncode != 0:
            pytest.skip("cannot remount read-only here")
        code = cli.main(["data", "import", str(panel), "--store", str(store)])
        err = capsys.readouterr().err
        assert code == 2, err
        assert err.count("Error:") == 1 and "Read-only file system" in err, err
        assert _files(store) == before
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, check=False)

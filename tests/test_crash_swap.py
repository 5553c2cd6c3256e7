"""Kill the writer at every step of a folder swap or file write and check what a user finds.

A child process replaces an output folder with :func:`backtests.core.io.atomic_dir` and dies with
``os._exit`` (no ``finally``, no cleanup: like ``kill -9``) just before step k, for every k the
swap has (:data:`backtests.core.io.FAULT_HOOK`); with ``strace -e inject`` (when strace is there and
may trace) the kill lands on the k-th rename system call instead. After each kill:

* the output folder exists and holds *either* the complete old *or* the complete new outputs
  (with the portable two-rename fallback it may be missing, and then the next run restores the
  old folder from its ``.old`` name);
* every file the user put in the folder is there, byte for byte;
* the next run cleans every leftover and writes the new outputs, user files still in place.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from backtests.core import io as bio

REPO = Path(__file__).resolve().parents[1]
OWNED = ("a.csv", "b.json", "top")
OLD = {"a.csv": b"old a\n", "b.json": b'{"old": 1}\n', "top/01/x.txt": b"old top\n"}
NEW = {"a.csv": b"new a\n", "b.json": b'{"new": 2}\n', "top/02/y.txt": b"new top\n"}
USER = {"notes.txt": "我的笔记\n".encode(), "mine/deep/plot.png": b"\x89PNG user",
        ".hidden": b"dot file of the user\n"}

CHILD = r"""
import os, sys
from pathlib import Path
from backtests.core import io as bio
mode, kill_at, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
steps = []
def hook(step):
    steps.append(step)
    if len(steps) == kill_at:
        os._exit(137)
bio.FAULT_HOOK = hook
if mode == "fallback":
    bio._exchange = lambda a, b: False
new = {"a.csv": b"new a\n", "b.json": b'{"new": 2}\n', "top/02/y.txt": b"new top\n"}
with bio.atomic_dir(out, owned=("a.csv", "b.json", "top")) as stage:
    for rel, data in new.items():
        bio.write_bytes_atomic(Path(stage) / rel, data)
print(" ".join(steps))
"""


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _setup(tmp_path: Path) -> Path:
    out = tmp_path / "parent" / "run"
    for rel, data in {**OLD, **USER}.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    (out / "link-to-notes").symlink_to("notes.txt")
    return out


def _child(mode: str, kill_at: int, out: Path, prefix=()) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([*prefix, sys.executable, "-c", CHILD, mode, str(kill_at), str(out)],
                          capture_output=True, text=True, env=env, cwd=out.parent.parent,
                          timeout=60)


def _outputs(tree: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in tree.items() if k.split("/")[0] in OWNED}


def _check_after_kill(out: Path, mode: str) -> None:
    if not out.exists():
        assert mode == "fallback", "the folder vanished although exchange is available"
        olds = list(out.parent.glob(".run.*.old"))
        assert len(olds) == 1 and _outputs(_tree(olds[0])) == OLD
    else:
        tree = _tree(out)
        assert _outputs(tree) in (OLD, NEW), sorted(tree)
        for rel, data in USER.items():
            assert tree[rel] == data, rel
        assert os.readlink(out / "link-to-notes") == "notes.txt"


def _check_rerun(out: Path) -> None:
    with bio.atomic_dir(out, owned=OWNED) as stage:
        for rel, data in NEW.items():
            bio.write_bytes_atomic(stage / rel, data)
    tree = _tree(out)
    assert _outputs(tree) == NEW
    for rel, data in USER.items():
        assert tree[rel] == data, rel
    assert os.readlink(out / "link-to-notes") == "notes.txt"
    assert sorted(p.name for p in out.parent.iterdir()) == ["run"]   # no leftovers


def _steps(mode: str, tmp_path: Path) -> list[str]:
    out = _setup(tmp_path / "count")
    done = _child(mode, 10**6, out)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.mark.parametrize("mode", ["exchange", "fallback"])
def test_kill_at_every_step(tmp_path, mode):
    steps = _steps(mode, tmp_path)
    expected_core = ["link", "exchange", "remove-old"] if mode == "exchange" else [
        "link", "exchange", "rename-aside", "rename-in", "remove-old"]
    assert [s for s in steps if s != "file-rename"] == expected_core
    for k in range(1, len(steps) + 1):
        case = tmp_path / f"k{k}"
        out = _setup(case)
        res = _child(mode, k, out)
        assert res.returncode == 137, (k, res.stderr)
        _check_after_kill(out, mode)
        _check_rerun(out)


def test_kill_with_no_previous_folder(tmp_path):
    out = tmp_path / "parent" / "run"
    out.parent.mkdir(parents=True)
    res = _child("exchange", 10**6, out)
    steps = res.stdout.split()
    assert steps[-1] == "rename-in"
    for k in range(1, len(steps) + 1):
        case = tmp_path / f"k{k}" / "parent" / "run"
        case.parent.mkdir(parents=True)
        assert _child("exchange", k, case).returncode == 137
        assert not case.exists() or _outputs(_tree(case)) == NEW
        with bio.atomic_dir(case, owned=OWNED) as stage:
            for rel, data in NEW.items():
                bio.write_bytes_atomic(stage / rel, data)
        assert _outputs(_tree(case)) == NEW
        assert sorted(p.name for p in case.parent.iterdir()) == ["run"]


def _strace_works() -> bool:
    if not shutil.which("strace"):
        return False
    try:
        res = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=none",
                              sys.executable, "-c", "pass"], capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return res.returncode == 0


@pytest.mark.skipif(not _strace_works(), reason="strace is not installed or may not trace here")
@pytest.mark.parametrize("mode", ["exchange", "fallback"])
def test_sigkill_at_every_rename_and_link_syscall(tmp_path, mode):
    """strace counts ``when=`` per system call, so each call is walked on its own: SIGKILL at
    its 1st, 2nd, ... occurrence until the writer survives (no k-th call left)."""
    killed = {}
    for syscall in ("rename", "renameat", "renameat2", "link", "linkat"):
        k = 0
        while True:
            k += 1
            out = _setup(tmp_path / f"{syscall}{k}")
            prefix = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", f"trace={syscall}",
                      "-e", f"inject={syscall}:signal=SIGKILL:when={k}"]
            res = _child(mode, 10**6, out, prefix=prefix)
            if res.returncode == 0:
                break                      # fewer than k such calls: every one was tried
            assert res.returncode in (137, -9), (syscall, k, res.returncode, res.stderr)
            _check_after_kill(out, mode)
            _check_rerun(out)
            assert k < 50
        killed[syscall] = k - 1
    # the files written into the stage, the links of the user's files, then the swap itself
    assert killed["rename"] + killed["renameat"] >= 3, killed
    assert killed["link"] + killed["linkat"] >= 3, killed
    if mode == "exchange":
        assert killed["renameat2"] == 1, killed
    else:
        assert killed["rename"] + killed["renameat"] >= 5, killed


def test_user_edits_during_the_run_are_not_lost(tmp_path):
    out = _setup(tmp_path)
    with bio.atomic_dir(out, owned=OWNED) as stage:
        (out / "written-meanwhile.txt").write_text("during the run\n", encoding="utf-8")
        for rel, data in NEW.items():
            bio.write_bytes_atomic(stage / rel, data)
    assert (out / "written-meanwhile.txt").read_text(encoding="utf-8") == "during the run\n"
    assert _outputs(_tree(out)) == NEW


def test_recovers_user_files_stranded_by_an_older_swap(tmp_path):
    """An older hypebt moved user files into ``.run.XXXX.tmp`` and could die there."""
    out = _setup(tmp_path)
    stranded = out.parent / ".run.k2j3h4g5.tmp"
    stranded.mkdir()
    (stranded / "lost-notes.txt").write_bytes(b"only copy\n")
    (stranded / "a.csv").write_bytes(b"half-written output\n")
    assert bio.leftovers(out.parent, "run") == [stranded]
    _check_rerun_keeping(out, {"lost-notes.txt": b"only copy\n"})


def test_restores_the_old_folder_left_at_its_old_name(tmp_path):
    out = _setup(tmp_path)
    aside = out.parent / f".run.{_dead_pid()}.abcd1234.old"
    os.rename(out, aside)               # killed between the two renames of the fallback
    with bio.atomic_dir(out, owned=OWNED) as stage:
        for rel, data in NEW.items():
            bio.write_bytes_atomic(stage / rel, data)
    tree = _tree(out)
    assert _outputs(tree) == NEW and all(tree[k] == v for k, v in USER.items())
    assert not aside.exists()


def test_live_writer_entries_are_not_leftovers(tmp_path):
    live = tmp_path / f".run.{os.getpid()}.abcd1234.tmp"
    dead = tmp_path / f".run.{_dead_pid()}.abcd1234.tmp"
    other = tmp_path / ".other.abcd1234.tmp"
    user = tmp_path / ".run.notes"
    for p in (live, dead, other, user):
        p.mkdir()
    assert bio.leftovers(tmp_path, "run") == [dead]
    assert bio.leftovers(tmp_path) == sorted([dead, other])


def _check_rerun_keeping(out: Path, extra: dict[str, bytes]) -> None:
    with bio.atomic_dir(out, owned=OWNED) as stage:
        for rel, data in NEW.items():
            bio.write_bytes_atomic(stage / rel, data)
    tree = _tree(out)
    assert _outputs(tree) == NEW
    for rel, data in {**USER, **extra}.items():
        assert tree[rel] == data, rel
    assert sorted(p.name for p in out.parent.iterdir()) == ["run"]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ---------------------------------------------------------------- store temp files
STORE_CHILD = r"""
import os, sys
from backtests.core import io as bio
from backtests.data.store import import_panel
seen = []
def hook(step):
    seen.append(step)
    if len(seen) == int(sys.argv[3]):
        os._exit(137)
bio.FAULT_HOOK = hook
import_panel(sys.argv[1], sys.argv[2])
"""


@pytest.mark.parametrize("kill_at,folder", [(1, "store"), (2, "bars")])
def test_killed_import_leaves_a_temp_file_that_info_lists_and_the_next_import_removes(
        tmp_path, capsys, kill_at, folder):
    from backtests.cli import main as cli
    from backtests.data.store import Store

    panel = tmp_path / "p.csv"
    panel.write_text("code,date,open,high,low,close,volume,amount\n"
                     "002354,2024-12-02,5,5.2,4.9,5.1,1000,5100\n", encoding="utf-8")
    store = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-c", STORE_CHILD, str(panel), str(store), str(kill_at)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 137, res.stderr
    temp = Store(store).leftovers()
    assert len(temp) == 1 and temp[0].parent.name == folder
    if folder == "bars":  # a store with a manifest: info lists the temp file
        assert cli.main(["data", "info", "--store", str(store)]) == 0
        out = capsys.readouterr().out
        assert "leftovers: 1 (" in out and temp[0].name in out
    assert cli.main(["data", "import", str(panel), "--store", str(store)]) == 0
    capsys.readouterr()
    assert Store(store).leftovers() == [] and not temp[0].exists()
    assert [p.name for p in (store / "bars").iterdir()] == ["002354.parquet"]

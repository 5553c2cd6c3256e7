"""Atomic file writes: write to a temporary file in the same folder, then rename.

Nothing a user already has is ever left half-written: either the old file or the complete new
one is there.
"""
from __future__ import annotations

import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path

from backtests.core.errors import ConfigError


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path next to ``path``; on success rename it over ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    # mkstemp creates 0600 files; give the result the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 text with ``\\n`` line endings atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)


@contextmanager
def atomic_dir(path: str | os.PathLike, *, owned, what: str = "output folder"):
    """Yield a new hidden folder beside ``path``; write a whole output folder into it, and when
    the block ends without error it takes the place of ``path`` -- all or nothing.

    ``owned``: the names (files or folders) the writer produces. The folder update:

    1. the staging folder ``.<name>.XXXX.tmp`` is made in the parent of ``path`` (same
       filesystem and depth, so renames are atomic and relative paths written into it hold);
    2. the block writes every output into it; an exception there removes it and leaves ``path``
       exactly as it was;
    3. entries of an existing ``path`` whose names are not in ``owned`` (a user's notes) are
       moved into the staging folder, so they survive; owned entries of the old folder that the
       new outputs lack (a stale ``heatmap.png``) do not;
    4. the old folder is renamed aside, the staging folder renamed in, the old one removed; if
       the second rename fails the old folder (and the moved entries) are put back.

    Refused with :class:`ConfigError` before anything is written: ``path`` exists and is not a
    folder; ``path`` holds visible entries but none of ``owned`` (not an output folder, so its
    files are not moved around; hidden entries like ``.DS_Store`` do not count); ``path`` contains the current directory. An ``OSError``
    (disk full, no permission) becomes ``ConfigError("cannot write the <what> <path>: ...")``.
    A symlink ``path`` is followed: the folder it points to is replaced, the link stays.
    """
    shown = Path(path)
    owned = frozenset(owned)

    def fail(exc: OSError) -> ConfigError:
        return ConfigError(f"cannot write the {what} {shown}: {exc.strerror or exc}")

    if shown.exists() and not shown.is_dir():
        raise ConfigError(f"output folder {shown} exists and is not a folder; choose another --out")
    target = shown.resolve()
    if target.is_dir():
        names = {e.name for e in target.iterdir() if not e.name.startswith(".")}
        if names and not names & owned:
            raise ConfigError(f"output folder {shown} is not empty and holds no hypebt outputs "
                              f"(none of {', '.join(sorted(owned))}); choose a new or empty "
                              f"folder for --out")
        cwd = Path.cwd().resolve()
        if cwd == target or target in cwd.parents:
            raise ConfigError(f"output folder {shown} contains the current directory; run "
                              f"from elsewhere or choose another --out")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp",
                                      dir=target.parent))
    except OSError as exc:
        raise fail(exc) from None
    try:
        if target.is_dir():
            mode = stat.S_IMODE(target.stat().st_mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o777 & ~umask
        os.chmod(stage, mode)
        yield stage
        _swap_in(stage, target, owned)
    except OSError as exc:
        raise fail(exc) from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _swap_in(stage: Path, target: Path, owned: frozenset) -> None:
    """Steps 3-4 of :func:`atomic_dir`: carry the foreign entries over, then swap folders."""
    if not target.is_dir():
        os.rename(stage, target)
        return
    moved: list[str] = []
    try:
        for entry in sorted(target.iterdir()):
            if entry.name not in owned and not (stage / entry.name).exists():
                os.rename(entry, stage / entry.name)
                moved.append(entry.name)
        aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old",
                                      dir=target.parent))
        try:
            os.rename(target, aside)       # onto an empty folder: allowed, atomic
        except OSError:
            os.rmdir(aside)
            raise
        try:
            os.rename(stage, target)
        except OSError:
            os.rename(aside, target)
            raise
    except OSError:
        for name in moved:
            os.rename(stage / name, target / name)
        raise
    shutil.rmtree(aside, ignore_errors=True)

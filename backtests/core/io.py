"""Atomic writes: a file through a temporary file and a rename, a whole output folder through a
staging folder swapped in one step; and the leftovers of runs that were killed half way.

Nothing a user already has is ever left half-written or lost: either the old file (folder) or
the complete new one is there, and files a user added to an output folder stay where they are.

Names of the temporary entries (all hidden, all beside their target so renames stay on one
filesystem): ``.NAME.PID.XXXXXXXX.tmp`` for a file or a staging folder, where PID is the
writing process. A ``.NAME.*.tmp`` / ``.NAME.*.old`` whose process is gone is a *leftover* of a
killed run: :func:`leftovers` finds them and :func:`clean_leftovers` removes them (the next
run that writes the same folder or store calls it).
"""
from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from backtests.core.errors import ConfigError, DataError, HypebtError, describe_failure

# Test hook for crash tests: called with a step name ("link", "exchange", "rename-aside",
# "rename-in", "remove-old", "file-rename") just before that step, so a test can kill the
# process there (os._exit) and check what a user would find. None in normal runs.
FAULT_HOOK: Callable[[str], None] | None = None

_LEFTOVER_RE = re.compile(r"^\.(?P<name>.+?)\.(?:(?P<pid>\d+)\.)?[A-Za-z0-9_]{6,12}\.(?:tmp|old)$")


def _fault(step: str) -> None:
    if FAULT_HOOK is not None:
        FAULT_HOOK(step)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_error(target: Path, exc: OSError, what: str = "") -> DataError:
    cause = describe_failure(exc) or str(exc)
    for shown in {str(exc.filename), str(target)}:
        if cause.startswith(shown + ": "):
            cause = cause[len(shown) + 2:]
    return DataError(f"cannot write {what + ' ' if what else ''}{target}: {cause}")


# ---------------------------------------------------------------- files
@contextmanager
def atomic_path(path: str | os.PathLike, *, what: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it over ``path``.

    An ``OSError`` while writing (disk full, no permission, read-only file system) removes the
    temporary file and becomes ``DataError("cannot write <what> <path>: <cause>")``.
    """
    target = Path(path)
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp",
                                   dir=target.parent)
        os.close(fd)
        # mkstemp creates 0600 files; give the result the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        yield Path(tmp)
        _fault("file-rename")
        os.replace(tmp, target)
    except BaseException as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, HypebtError):
            raise _write_error(target, exc, what) from None
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 text with ``\\n`` line endings atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


# ---------------------------------------------------------------- leftovers
def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: a process of another user has that pid
        return True
    return True


def leftovers(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Hidden ``.NAME.*.tmp`` / ``.NAME.*.old`` entries in ``folder`` (files or folders) left by
    writers that are no longer running, sorted; only those of target ``name`` when given.
    Entries of a live process (a run going on right now) are not leftovers."""
    folder = Path(folder)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    out = []
    for entry in entries:
        m = _LEFTOVER_RE.match(entry.name)
        if not m or (name is not None and m["name"] != name):
            continue
        if m["pid"] is not None and _alive(int(m["pid"])):
            continue
        out.append(folder / entry.name)
    return sorted(out)


def _recover_from(leftover: Path, target: Path, owned: frozenset) -> None:
    """Put back what only a leftover staging/old folder still holds: the whole old folder when
    ``target`` is missing (a run killed between the two renames of the portable swap), else the
    entries a user added that ``target`` lacks (stranded there by an older hypebt's swap)."""
    if not leftover.is_dir() or leftover.is_symlink():
        return
    if not target.exists():
        if leftover.suffix == ".old":
            os.rename(leftover, target)
        return
    for entry in sorted(leftover.iterdir()):
        if entry.name not in owned and not os.path.lexists(target / entry.name):
            os.rename(entry, target / entry.name)


def clean_leftovers(folder: str | os.PathLike, name: str | None = None, *,
                    owned=None) -> list[Path]:
    """Remove the leftovers of :func:`leftovers`; return what was removed.

    With ``owned`` (the output names of the folder ``folder/name``), a leftover folder is first
    searched for anything of the user's to put back (see :func:`_recover_from`)."""
    removed = []
    for path in leftovers(folder, name):
        if owned is not None and name is not None:
            _recover_from(path, Path(folder) / name, frozenset(owned))
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.lexists(path):
            os.unlink(path)
        removed.append(path)
    return removed


# ---------------------------------------------------------------- folders
_RENAME_EXCHANGE = 2  # <linux/fs.h>
_renameat2 = None


def _exchange(a: Path, b: Path) -> bool:
    """Swap ``a`` and ``b`` in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``). Returns
    False when this system or filesystem cannot, so the caller falls back to two renames."""
    global _renameat2
    if not sys.platform.startswith("linux"):
        return False
    if _renameat2 is None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fn = libc.renameat2
        except (OSError, AttributeError):  # glibc < 2.28, musl: no wrapper
            _renameat2 = False
            return False
        fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                       ctypes.c_uint]
        fn.restype = ctypes.c_int
        _renameat2 = fn
    if _renameat2 is False:
        return False
    at_fdcwd = -100
    if _renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # old kernel or a filesystem without exchange
    raise OSError(err, os.strerror(err), str(a), None, str(b))


def _link_tree(src: Path, dst: Path) -> None:
    """Give ``dst`` the same entry as ``src`` without moving ``src``: a hard link for a file, a
    copied symlink, and for a folder the same done recursively (a copy where links fail)."""
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
    elif src.is_dir():
        os.mkdir(dst)
        shutil.copystat(src, dst, follow_symlinks=False)
        for entry in sorted(src.iterdir()):
            _link_tree(entry, dst / entry.name)
    else:
        try:
            os.link(src, dst)
        except OSError:  # a filesystem without hard links: a copy keeps the content
            shutil.copy2(src, dst)


@contextmanager
def atomic_dir(path: str | os.PathLike, *, owned, what: str = "output folder",
               markers=None) -> Iterator[Path]:
    """Yield a new hidden folder beside ``path``; write a whole output folder into it, and when
    the block ends without error it takes the place of ``path`` -- all or nothing.

    ``owned``: the names (files or folders) the writer produces; everything else in ``path`` is
    the user's. ``markers``: the owned names whose presence shows ``path`` is an output folder
    (default: all of ``owned``). The update:

    1. leftovers of killed runs writing ``path`` are cleaned (anything of the user's that only
       they still hold is put back first), then the staging folder ``.<name>.PID.XXXX.tmp`` is
       made in the parent of ``path`` (same filesystem and depth, so renames are atomic and
       relative paths written into it hold);
    2. the block writes every output into it; an exception there removes it and leaves ``path``
       exactly as it was;
    3. each user entry of ``path`` gets a hard link in the staging folder (the user's file is
       not moved; a folder is linked file by file);
    4. the staging folder and ``path`` are exchanged in one step (Linux ``renameat2`` with
       ``RENAME_EXCHANGE``), and the old folder -- now at the staging name -- is removed.
       Where exchange is not available (other systems, some filesystems) ``path`` is renamed
       to ``.<name>.PID.XXXX.old`` and the staging folder renamed in: for that instant
       ``path`` does not exist, and a run killed right then leaves the old folder at the
       ``.old`` name, which the next run puts back.

    So at every instant ``path`` holds the complete old or the complete new outputs (with the
    portable fallback: or is briefly missing, restored by the next run), and no user file is
    ever only inside a hidden folder.

    Refused with :class:`ConfigError` before anything is written: ``path`` exists and is not a
    folder; ``path`` holds visible entries but none of ``markers`` (not an output folder, so it
    is not taken over; hidden entries like ``.DS_Store`` do not count); ``path`` contains the
    current directory. An ``OSError`` (disk full, no permission) becomes
    ``ConfigError("cannot write the <what> <path>: ...")``. A symlink ``path`` is followed: the
    folder it points to is replaced, the link stays.
    """
    shown = Path(path)
    owned = frozenset(owned)
    markers = owned if markers is None else frozenset(markers)

    def fail(exc: OSError) -> ConfigError:
        cause = describe_failure(exc) or str(exc)
        return ConfigError(f"cannot write the {what} {shown}: {cause}")

    if shown.exists() and not shown.is_dir():
        raise ConfigError(f"output folder {shown} exists and is not a folder; choose another --out")
    target = shown.resolve()
    if target.is_dir():
        names = {e.name for e in target.iterdir() if not e.name.startswith(".")}
        if names and not names & markers:
            raise ConfigError(f"output folder {shown} is not empty and holds no hypebt outputs "
                              f"(none of {', '.join(sorted(markers))}); choose a new or empty "
                              f"folder for --out")
        cwd = Path.cwd().resolve()
        if cwd == target or target in cwd.parents:
            raise ConfigError(f"output folder {shown} contains the current directory; run "
                              f"from elsewhere or choose another --out")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_leftovers(target.parent, target.name, owned=owned)
        stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp",
                                      dir=target.parent))
    except OSError as exc:
        raise fail(exc) from None
    try:
        mode = (stat.S_IMODE(target.stat().st_mode) if target.is_dir()
                else 0o777 & ~_umask())
        os.chmod(stage, mode)
        yield stage
        _swap_in(stage, target, owned)
    except OSError as exc:
        raise fail(exc) from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _swap_in(stage: Path, target: Path, owned: frozenset) -> None:
    """Steps 3-4 of :func:`atomic_dir`. On return ``stage`` holds the old folder (or is gone)."""
    if not target.is_dir():
        _fault("rename-in")
        os.rename(stage, target)
        return
    _fault("link")
    for entry in sorted(target.iterdir()):
        if entry.name not in owned and not os.path.lexists(stage / entry.name):
            _link_tree(entry, stage / entry.name)
    _fault("exchange")
    if _exchange(stage, target):
        _fault("remove-old")
        return  # the caller removes ``stage``, which now holds the old folder
    aside = Path(str(stage)[:-len(".tmp")] + ".old")
    _fault("rename-aside")
    os.rename(target, aside)
    try:
        _fault("rename-in")
        os.rename(stage, target)
    except OSError:
        os.rename(aside, target)
        raise
    _fault("remove-old")
    shutil.rmtree(aside, ignore_errors=True)

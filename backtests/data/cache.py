"""On-disk cache of aligned markets: load a 10-year panel in a fraction of a second.

:func:`cached_market` wraps a builder (read, validate, align: the work of
:func:`backtests.data.load.load_market`) and stores its :class:`~backtests.data.market.Market` as one ``.npy`` file per array in the user cache
folder (``platformdirs.user_cache_dir("hypebt")/market``, or ``$HYPEBT_CACHE_DIR``). The next
run with the same inputs memory-maps those files (copy-on-write: a run may write into its
arrays, the cache never changes) instead of parsing the panel again.

Key. A SHA-256 over: the cache format version; :func:`rules_version` (the exchange rule tables,
the trading calendar file, and the source of the modules that compute a market); the content of
every input file (the panel file, or every file of a store directory, and the names files);
the load options (``start``, ``end``, ``drop_bad``). Any change to any of them is a new key, so
a stale entry is never read. Hashing the content costs about 0.15 s for a 180 MB panel.

Warnings. The :class:`~backtests.core.errors.DataWarning` s the build issued (dropped rows, bars
outside their limits, ...) are stored with the entry and issued again on every load, so a
cached run prints exactly what an uncached one prints.

Safety. An entry is written into a private temporary folder beside the final one and renamed
into place only when complete (its ``meta.json`` written last), so a reader never sees a
partial entry. Two runs building the same entry at once both succeed: the first rename wins,
the second run discards its copy and uses the winner's. A writer killed mid-way leaves only a
temporary folder, which no reader opens and a later run removes once it is an hour old. An
entry that cannot be read (a damaged file) is rebuilt. At most :data:`KEEP` entries are kept
(least recently used removed first), since a 10-year whole-market entry takes about 1 GB.
"""
from __future__ import annotations

import builtins
import hashlib
import json
import os
import shutil
import time
import uuid
import warnings
from pathlib import Path

import numpy as np
import platformdirs

from backtests.core import errors, rules
from backtests.core.calendar import calendar_path
from backtests.core.progress import step
from backtests.data.market import Market

#: Bump when the layout of an entry or the meaning of a Market field changes.
FORMAT_VERSION = 3   # 2: the [S, N] status bits (exchange status by date); 3: entitlements
#: Most entries kept; older ones (by last use) are removed after a new entry is stored.
KEEP = 4
#: Temporary folders older than this (seconds) belonged to a killed writer and are removed.
STALE_TMP = 3600
META = "meta.json"

ARRAY_FIELDS = ("sessions", "codes", "names", "boards", "is_st", "open", "high", "low", "close",
                "volume", "amount", "prev_close", "limit_ratio", "limit_up", "limit_down",
                "status", "entitlements")
#: The [S, N] arrays, memory-mapped on load (the small per-stock / per-session ones are read).
MAPPED = ("open", "high", "low", "close", "volume", "amount", "prev_close", "limit_ratio",
          "limit_up", "limit_down", "status")


def cache_root() -> Path:
    """``$HYPEBT_CACHE_DIR`` or ``platformdirs.user_cache_dir("hypebt")/market``."""
    env = os.environ.get("HYPEBT_CACHE_DIR")
    if env:
        return Path(env)
    return Path(platformdirs.user_cache_dir("hypebt")) / "market"


def _hash_file(h, path: Path) -> None:
    h.update(f"file {path.name} {path.stat().st_size}\n".encode())
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)


def _hash_input(h, path: Path) -> None:
    """The content of a file, or of every file under a directory (sorted relative paths).
    Anything else (a pipe, a device) raises ``OSError``: such a load bypasses the cache."""
    if not (path.is_dir() or path.is_file()):
        raise OSError(f"{path}: not a regular file or directory")
    if path.is_dir():
        for p in sorted(q for q in path.rglob("*") if q.is_file()):
            h.update(f"member {p.relative_to(path).as_posix()}\n".encode())
            _hash_file(h, p)
    else:
        _hash_file(h, path)


#: The modules whose code decides a market's arrays (paths under the ``backtests`` package).
SOURCES = ("core/calendar.py", "core/rules.py", "core/names.py", "data/panel.py",
           "data/market.py", "data/master.py", "data/store.py", "data/load.py", "data/cache.py",
           "data/status.py")

_sources_digest: list[str] = []


def rules_version() -> str:
    """Fingerprint of everything besides the inputs that decides a market's arrays: the rule
    tables of :mod:`backtests.core.rules` as they are now (limits, boards, listings), the source
    of the modules that read, validate and align a panel, and the trading calendar file (those
    two read once per process)."""
    if not _sources_digest:
        package = Path(__file__).resolve().parents[1]
        h = hashlib.sha256()
        for name in SOURCES:
            h.update(name.encode() + b"\n" + (package / name).read_bytes())
        try:
            h.update(Path(calendar_path()).read_bytes())
        except (OSError, errors.HypebtError):
            h.update(b"no calendar")          # the build itself will say what is missing
        _sources_digest.append(h.hexdigest())
    tables = repr((rules.LIMIT_RATIO, rules.BOARD_PREFIXES, rules.NO_LIMIT_AFTER_LISTING,
                   rules.IPO_DAY_BAND, rules.TICK, rules.LOT, rules.FEES))
    return hashlib.sha256((_sources_digest[0] + tables).encode()).hexdigest()


def market_key(path, *, names=(), start=None, end=None, drop_bad=False, status=None,
               actions=None) -> str:
    """The cache key of a load (see the module doc); ``status``/``actions``: the status and
    corporate-actions files of the load, if any."""
    h = hashlib.sha256(f"hypebt market cache {FORMAT_VERSION}\n{rules_version()}\n".encode())
    h.update(f"start {start} end {end} drop_bad {bool(drop_bad)}\n".encode())
    _hash_input(h, Path(path))
    for n in names:
        h.update(b"names\n")
        _hash_input(h, Path(n))
    for label, extra in (("status", status), ("actions", actions)):
        if extra is not None:
            h.update(label.encode() + b"\n")
            _hash_input(h, Path(extra))
    return h.hexdigest()[:40]


def _clean(root: Path) -> None:
    """Remove temporary folders of killed writers and all but the :data:`KEEP` newest entries."""
    now = time.time()
    entries = []
    for p in root.iterdir() if root.is_dir() else ():
        try:
            if p.name.startswith(".tmp-"):
                if now - p.stat().st_mtime > STALE_TMP:
                    shutil.rmtree(p, ignore_errors=True)
            elif p.is_dir():
                entries.append(((p / META).stat().st_mtime if (p / META).exists() else 0.0, p))
        except OSError:
            continue                       # removed by another run meanwhile
    for _, p in sorted(entries, reverse=True)[KEEP:]:
        shutil.rmtree(p, ignore_errors=True)


def _write(root: Path, key: str, market, caught: list[tuple[str, str]]) -> None:
    """Write an entry into a private folder, then rename it into place (see Safety)."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        for name in ARRAY_FIELDS:
            np.save(tmp / f"{name}.npy", np.asarray(getattr(market, name)), allow_pickle=False)
        meta = {"format": FORMAT_VERSION, "synthetic": bool(market.synthetic),
                "warnings": [list(w) for w in caught]}
        (tmp / META).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        try:
            os.rename(tmp, root / key)
        except OSError:
            if not (root / key / META).exists():   # a damaged entry: replace it
                shutil.rmtree(root / key, ignore_errors=True)
                os.rename(tmp, root / key)
            # else another run stored the same entry first: keep theirs
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _clean(root)


def _read(entry: Path):
    """``(market, warnings)`` of an entry, or ``None`` if it is missing or unreadable."""
    try:
        meta = json.loads((entry / META).read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT_VERSION:
            return None
        arrays = {name: np.load(entry / f"{name}.npy", allow_pickle=False,
                                mmap_mode="c" if name in MAPPED else None)
                  for name in ARRAY_FIELDS}
        S, N = len(arrays["sessions"]), len(arrays["codes"])
        if any(arrays[name].shape != (S, N) for name in MAPPED):
            return None
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None
    try:
        os.utime(entry / META)             # last use, for the KEEP eviction
    except OSError:
        pass
    market = Market(**arrays, synthetic=bool(meta["synthetic"]))
    return market, meta["warnings"]


def _category(name: str) -> type[Warning]:
    cls = getattr(errors, name, None) or getattr(builtins, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, Warning) else UserWarning


def _reissue(caught) -> None:
    """Issue ``(category, message)`` pairs again (category a class or a stored class name)."""
    for category, message in caught:
        cls = _category(category) if isinstance(category, str) else category
        warnings.warn(cls(message), stacklevel=4)


def cached_market(build, path, *, names=(), start=None, end=None, drop_bad=False,
                  status=None, actions=None, use_cache: bool = True):
    """``build()`` (a Market), through the cache when ``use_cache``; see the module doc.

    ``path``, ``names``, ``start``, ``end``, ``drop_bad`` are what ``build`` reads: they make
    the key. A cache folder that cannot be written only costs the speed-up, never the run."""
    if not use_cache or os.environ.get("HYPEBT_NO_CACHE"):
        return build()
    root = cache_root()
    try:
        key = market_key(path, names=tuple(names or ()), start=start, end=end, drop_bad=drop_bad,
                         status=status, actions=actions)
    except OSError:
        return build()                         # an input it cannot read: build says which
    hit = _read(root / key)
    if hit is not None:
        market, caught = hit
        _reissue(caught)
        return market
    if (root / key).exists():                  # damaged: move it aside, then rebuild
        dead = root / f".tmp-dead-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(root / key, dead)
            shutil.rmtree(dead, ignore_errors=True)
        except OSError:
            pass
    records: list = []
    try:
        with warnings.catch_warnings(record=True) as records:
            warnings.simplefilter("always")
            market = build()
    finally:                                   # issued as they would have been, error or not
        _reissue([(w.category, str(w.message)) for w in records])
    try:
        with step("storing the market cache"):
            _write(root, key, market, [(w.category.__name__, str(w.message)) for w in records])
    except OSError:
        pass                                   # read-only or full cache folder: run uncached
    return market

"""One call that picks the market source (a panel file, a store, the demo) and the stock master."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import pandas as pd

from backtests.core.errors import ConfigError, DataWarning
from backtests.core.progress import step
from backtests.data.cache import cached_market
from backtests.data.demo import demo_names, demo_panel
from backtests.data.market import Market, build_market
from backtests.data.master import StockMaster, load_master
from backtests.data.panel import dropped_summary, read_panel, validate_panel
from backtests.data.store import ACTIONS_FILE, Store, read_store


def stock_master(names=(), *, store=None, market=None, demo: bool = False) -> StockMaster | None:
    """The one rule that picks the stock master (names, former names, list dates) of a run.

    In order: the names files ``names`` (a path or a list; the first holds current names); a
    store's stored names (``store``: a store directory); the SYNTHETIC demo names (``demo``);
    the codes and names of a loaded ``market``; else None (the panel's own names, if any).
    """
    if isinstance(names, (str, os.PathLike)):
        names = [names]
    if names:
        return load_master(*names)
    if store is not None:
        stored = Store.open(store, option="--data").read_names()
        if stored is not None and len(stored):
            return StockMaster.from_frame(stored, source=f"store {store} names")
    if demo:
        return StockMaster.from_frame(demo_names(), source="demo names")
    if market is not None:
        frame = pd.DataFrame({"code": market.codes, "name": market.names})
        named = frame["name"].fillna("").astype(str).str.strip() != ""
        if not named.any():
            raise ConfigError("finding the companies an article names needs stock names, and "
                              "the market data has none: give a names file ([data] names = "
                              '["names.csv"] in a config, --names for hypebt signals)')
        # stocks without a name can still be found by their code
        return StockMaster.from_frame(frame[named].reset_index(drop=True),
                                      source="the market data's names")
    return None


def load_market(path, *, names=None, start=None, end=None, drop_bad: bool = False,
                status=None, actions=None, cache: bool = True) -> Market:
    """Read, validate and align a market in one call.

    ``path`` is ``"demo"`` (the embedded SYNTHETIC demo market, ``synthetic=True``), a store
    directory (``backtests.data.store.read_store``; its stored names serve when ``names`` is not
    given) or a panel file (:func:`read_panel`). ``names`` is a names file or a list of them
    (first = current names); :func:`stock_master` picks the master. Rows dropped with
    ``drop_bad`` are reported as a :class:`DataWarning`. ``status`` is a status file
    (``[data] status``; :func:`backtests.data.status.read_status_file`) laid over the status
    and reference prices from the data and from inference; ``actions`` a corporate-actions
    file (``[data] actions``; :func:`backtests.data.status.read_actions_file`) whose ex-dates
    get the exchanges' reference price.

    A panel file or store directory goes through the market cache (:mod:`backtests.data.cache`:
    the aligned arrays stored on disk, keyed by the content of the inputs, the status and
    actions files included, memory-mapped on the next load with the same inputs);
    ``cache=False`` (the CLI's ``--no-cache``) reads and aligns the files every time, and so
    does a status or actions table given as a frame instead of a file.
    """
    def build():
        return _load_market(path, names=names, start=start, end=end, drop_bad=drop_bad,
                            status=status, actions=actions)

    if actions is None and str(path) != "demo" and (Path(path) / ACTIONS_FILE).is_file():
        actions = Path(path) / ACTIONS_FILE      # a store's fetched corporate actions
    as_files = all(x is None or isinstance(x, (str, os.PathLike)) for x in (status, actions))
    if str(path) != "demo" and (Path(path).is_file() or Path(path).is_dir()):
        paths = [names] if isinstance(names, (str, os.PathLike)) else list(names or ())
        with step(f"loading market {Path(path).name}"):
            return cached_market(build, path, names=paths, start=start, end=end,
                                 drop_bad=drop_bad, status=status, actions=actions,
                                 use_cache=cache and as_files)
    return build()


def _load_market(path, *, names=None, start=None, end=None, drop_bad: bool = False,
                 status=None, actions=None) -> Market:
    """:func:`load_market` without the cache."""
    if str(path) == "demo":
        panel = validate_panel(demo_panel(), source="demo (synthetic)")
        master = stock_master(names or (), demo=True)
        # the demo's status is exact (its names say it): nothing to infer
        return build_market(panel, master=master, start=start, end=end, synthetic=True,
                            status_file=status, actions=actions, infer=False)
    p = Path(path)
    if p.is_dir():
        panel = validate_panel(read_store(p), source=f"store {p}", drop_bad=drop_bad)
        master = stock_master(names or (), store=p)
    else:
        panel = read_panel(p, drop_bad=drop_bad)
        master = stock_master(names or ())
    dropped = panel.attrs.get("dropped") or {}
    if dropped:
        warnings.warn(DataWarning(
            f"dropped {sum(dropped.values())} bad row(s) from {panel.attrs.get('source', p)}: "
            f"{dropped_summary(dropped)}"), stacklevel=2)
    return build_market(panel, master=master, start=start, end=end, status_file=status,
                        actions=actions, consume=True)

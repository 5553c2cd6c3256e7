"""Stock names: the lookup form of a name and the ST flag a name carries."""
from __future__ import annotations

import unicodedata


def normalize_name(name: str) -> str:
    """Lookup form of a stock name: NFKC (full-width -> half-width) with all whitespace removed."""
    return "".join(unicodedata.normalize("NFKC", str(name)).split())


def name_is_st(name: str) -> bool:
    """A name carrying ST (ST, *ST, S*ST, full-width or not) marks special treatment."""
    return "ST" in normalize_name(name).upper()


def name_is_s_share(name: str) -> bool:
    """A name starting with S (S佳通, S*ST…, SST…) marks a share that has not completed the
    2005-2006 split-share reform (未股改): 5% band on the main board."""
    text = normalize_name(name).upper()
    return text.startswith("S") and not text.startswith("ST")


def name_is_delisting(name: str) -> bool:
    """A name ending in 退 (e.g. 金刚退) marks the delisting period (退市整理期): the exchanges
    rename a stock so for it."""
    return normalize_name(name).endswith("退")

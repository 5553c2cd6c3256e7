"""Stock names: the lookup form of a name and the ST flag a name carries."""
from __future__ import annotations

import unicodedata


def normalize_name(name: str) -> str:
    """Lookup form of a stock name: NFKC (full-width -> half-width) with all whitespace removed."""
    return "".join(unicodedata.normalize("NFKC", str(name)).split())


def name_is_st(name: str) -> bool:
    """A name carrying ST (ST, *ST, S*ST, full-width or not) marks special treatment."""
    return "ST" in normalize_name(name).upper()

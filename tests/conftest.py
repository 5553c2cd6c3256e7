"""Shared fixtures. Real-data tests read ``../shared/data`` (or ``$HYPEBT_SHARED_DATA``) and skip
with a clear reason when it is absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI (CI=true) replays the same examples every run, so a green main stays green; a local run
# draws new examples each time and keeps exploring. A failure prints the blob to reproduce it.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("HYPEBT_SHARED_DATA", REPO.parent / "shared" / "data"))
REAL_PANEL = SHARED_DATA / "ashare_daily_20240719_20250523.csv.gz"
REAL_NAMES = SHARED_DATA / "ashare_names_20250418.csv"
REAL_NAMES_2023 = SHARED_DATA / "ashare_codes_names_listdates_2023.csv"
NEWS = SHARED_DATA / "news"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of the real-data folder; skips the test when it is not there."""
    if not REAL_PANEL.exists():
        pytest.skip(f"real data not found at {SHARED_DATA} (set HYPEBT_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def _market_cache_dir(tmp_path_factory):
    """Tests never write into the user's market cache: one fresh cache folder per session
    (shared by the tests, as a user's cache is shared by runs)."""
    old = os.environ.get("HYPEBT_CACHE_DIR")
    os.environ["HYPEBT_CACHE_DIR"] = str(tmp_path_factory.mktemp("market-cache"))
    yield
    if old is None:
        os.environ.pop("HYPEBT_CACHE_DIR", None)
    else:
        os.environ["HYPEBT_CACHE_DIR"] = old

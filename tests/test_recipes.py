"""The recipes of docs/strategies.md on the real panel: each config in configs/ runs, prints
the figures the page shows, and the user-signal CSVs are what their script computes. (``hypebt
crosscheck`` agreeing on each recipe is tests/test_crosscheck.py's check of every shipped
config.)"""
from __future__ import annotations

import importlib.util

import pytest

from backtests.cli.main import main
from tests.conftest import REAL_NAMES, REAL_PANEL, REPO

RECIPES = ("recipe_news_open", "recipe_yijiner", "recipe_dragon", "recipe_ice_point",
           "recipe_user_signals")


def shown_lines(name: str) -> list[str]:
    """The summary lines docs/strategies.md shows under the section of ``configs/<name>.toml``."""
    doc = (REPO / "docs" / "strategies.md").read_text(encoding="utf-8")
    section = doc[doc.index(f"`configs/{name}.toml`"):]
    section = section[:section.index("\n## ")] if "\n## " in section else section
    lines, fence = [], None
    for ln in section.splitlines():
        if ln.startswith("```"):
            fence = None if fence is not None else ln[3:]
        elif fence == "" and ln.startswith("  "):      # a plain block: the printed summary
            lines.append(ln)
    assert lines, f"docs/strategies.md shows no figures for {name}"
    return lines


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_runs_with_the_documented_figures(name, shared_data, tmp_path, capsys):
    assert main(["backtest", str(REPO / "configs" / f"{name}.toml"),
                 "--out", str(tmp_path / name)]) == 0
    out = capsys.readouterr().out.splitlines()
    for line in shown_lines(name):
        assert line in out, f"{name}: docs/strategies.md shows {line!r}; the run printed\n" + \
            "\n".join(out)


def test_every_recipe_is_documented():
    doc = (REPO / "docs" / "strategies.md").read_text(encoding="utf-8")
    shipped = sorted(p.stem for p in (REPO / "configs").glob("recipe_*.toml"))
    assert shipped == sorted(RECIPES)
    for name in RECIPES:
        assert f"`configs/{name}.toml`" in doc


def test_user_signal_files_are_what_the_script_computes(shared_data):
    from backtests.data.load import load_market

    spec = importlib.util.spec_from_file_location("recipe_user_signals",
                                                  REPO / "configs" / "recipe_user_signals.py")
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    market = load_market(str(REAL_PANEL), names=[str(REAL_NAMES)])
    marks_text, exits_text = recipe.to_csv(*recipe.user_signals(market))
    assert marks_text == (REPO / "configs" / "user_entries.csv").read_text(encoding="utf-8")
    assert exits_text == (REPO / "configs" / "user_exits.csv").read_text(encoding="utf-8")

"""Market-confirmed roles: a mention's board_state is the stock's state at the close of the last
session that closed before publication (never a later one), and [board_roles] lifts a plain
mention to momentum/risk from it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.engine.backtest import toy_market
from backtests.data.master import StockMaster
from backtests.features.scan import BoardStates
from signals.articles import Article
from signals.marks import analyze
from signals.roles import load_roles

# 2024-12-09 (Mon) .. 12-13 (Fri). 002354 (main board, 10 %): limit-up closes on 10 and 11
# (a streak), touched but closed below on 12 (炸板), limit-down on 13. 000785: no event.
DAYS = ["2024-12-09", "2024-12-10", "2024-12-11", "2024-12-12", "2024-12-13"]
C1 = [10.00, 11.00, 12.10, 12.50, 11.25]
H1 = [10.00, 11.00, 12.10, 13.31, 12.60]
C2 = [5.0, 5.1, 5.0, 5.1, 5.0]


@pytest.fixture(scope="module")
def market():
    close = np.array([C2, C1]).T
    high = np.array([C2, H1]).T
    return toy_market(DAYS, ["000785", "002354"], close, high, close, close, prev_close=[5.0, 10.0])


def at(board, code, when):
    return board.at(code, int(pd.Timestamp(when, tz="Asia/Shanghai").timestamp()))


def test_state_is_the_last_close_before_publication(market):
    b = BoardStates(market)
    assert at(b, "002354", "2024-12-10 14:59") == ""            # during the 10th: 9th's close
    assert at(b, "002354", "2024-12-10 15:00") == "limit_up"    # the 10th has closed
    assert at(b, "002354", "2024-12-11 08:00") == "limit_up"    # before the 11th's open
    assert at(b, "002354", "2024-12-11 16:00") == "streak"      # second limit-up close in a row
    assert at(b, "002354", "2024-12-12 20:00") == "broken"      # touched 13.31, closed 12.50
    assert at(b, "002354", "2024-12-14 10:00") == "limit_down"  # weekend: Friday's close
    assert at(b, "000785", "2024-12-14 10:00") == ""
    assert at(b, "600000", "2024-12-14 10:00") == ""            # not in the market
    assert at(b, "002354", "2024-12-09 09:00") == ""            # before the first close


def test_plain_mention_takes_the_confirmed_role_text_role_kept(market):
    master = StockMaster.from_frame(pd.DataFrame({"code": ["000785", "002354"],
                                                  "name": ["居然智家", "天娱数科"]}))
    arts = [Article("a", pd.Timestamp("2024-12-11 18:00", tz="Asia/Shanghai"), "天娱数科公告",
                    "天娱数科、居然智家今日公告。"),
            Article("b", pd.Timestamp("2024-12-13 18:00", tz="Asia/Shanghai"), "天娱数科互动",
                    "天娱数科在互动平台回复投资者提问。")]
    r = analyze(arts, master, board=BoardStates(market))
    got = {(x.article_id, x.code): (x.role, x.board_state) for x in r.mentions.itertuples()}
    assert got[("a", "002354")] == ("momentum", "streak")       # plain mention, confirmed
    assert got[("a", "000785")] == ("mention", "")
    assert got[("b", "002354")] == ("cooperation", "limit_down")  # the text's role stays
    plain = analyze(arts, master)
    assert set(plain.mentions["board_state"]) == {""}
    assert plain.mentions.set_index(["article_id", "code"]).loc[("a", "002354"), "role"].iloc[0] == "mention"


def test_board_roles_must_name_known_states_and_roles(tmp_path):
    from backtests.core.errors import ConfigError

    text = Path(load_roles().source).read_text(encoding="utf-8")
    bad = tmp_path / "roles.toml"
    bad.write_text(text.replace("limit_up = \"momentum\"", "limit_upp = \"momentum\""), encoding="utf-8")
    with pytest.raises(ConfigError, match="limit_upp: unknown board state"):
        load_roles(bad)
    bad.write_text(text.replace("limit_up = \"momentum\"", "limit_up = \"rocket\""), encoding="utf-8")
    with pytest.raises(ConfigError, match="limit_up = 'rocket': not a role"):
        load_roles(bad)

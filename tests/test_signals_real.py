"""The signals pipeline on the real articles and names in ../shared/data (skipped without them).

The Doubao article (news/doubao_concept_20241216.json, published 2024-12-16 02:58 +08:00) was
read by hand; every listed company it names is below with the role its sentence gives it.
Four brokers are named only as the authors of research reports: they are listed companies, so
they are found, with role ``source`` (weight 0) and no mark. Not listed, hence never stocks:
字节跳动, 火山引擎, OpenAI, 财联社, 剪映, CapCut, ChatGPT, Sora.
"""
from __future__ import annotations

import json

import pandas as pd
import pytest

from backtests.data.master import load_master
from signals.marks import analyze
from tests.conftest import NEWS, REAL_NAMES, REAL_NAMES_2023, REAL_PANEL

DOUBAO_ROLES = {
    # "天娱数科、居然智家、蜂助手等多家上市公司股价连续多日涨停 ... 10天6板 ... 6天5板 ... 20CM 涨停"
    "002354": {"momentum"},                  # 天娱数科
    "000785": {"momentum", "cooperation"},   # 居然智家 (also in the 互动平台/合作 list)
    "301382": {"momentum", "cooperation"},   # 蜂助手 (also in the list)
    # "包括德生科技、洲明科技、居然智家、蜂助手、中科蓝讯、实丰文化、中科创达、因赛集团在内的8家上市公司
    #  近期发布机构调研或互动平台回复，披露了与豆包合作的相关情况"
    "002908": {"cooperation"},               # 德生科技
    "300232": {"cooperation"},               # 洲明科技
    "688332": {"cooperation", "broker"},     # 中科蓝讯 (also 研报推荐)
    "002862": {"cooperation"},               # 实丰文化
    "300496": {"cooperation"},               # 中科创达
    "300781": {"cooperation"},               # 因赛集团
    # "研报推荐了 AISoC 方面的恒玄科技和中科蓝讯，存储方面的普冉股份，以及相关受益标的:星宸科技 ... 和乐鑫科技"
    "688608": {"broker"},                    # 恒玄科技
    "688766": {"broker"},                    # 普冉股份
    "301536": {"broker"},                    # 星宸科技
    "688018": {"broker"},                    # 乐鑫科技
    # brokers quoted as report authors
    "000750": {"source"},                    # 国海证券 "刘熹在12月12日的研报中表示"
    "600958": {"source"},                    # 东方证券 "12月13日研报指出"
    "600999": {"source"},                    # 招商证券 "梁程加等人10月7日研报表示"
    "601211": {"source"},                    # 国泰君安 (renamed 国泰海通 in 2025: a former name)
}
SUBJECTS = {c for c, roles in DOUBAO_ROLES.items() if roles != {"source"}}


@pytest.fixture(scope="module")
def master(shared_data):
    return load_master(REAL_NAMES, REAL_NAMES_2023)


@pytest.fixture(scope="module")
def master_current(shared_data):
    return load_master(REAL_NAMES)


@pytest.mark.parametrize("fname", ["doubao_concept_20241216.json", "doubao_concept_20241216.md"])
def test_doubao_article_full_expected_set(master, fname):
    r = analyze([NEWS / fname], master)
    m = r.mentions
    roles = m.groupby("code")["role"].agg(set).to_dict()
    assert roles == DOUBAO_ROLES
    assert set(m["session"].astype(str)) == {"2024-12-16"}
    assert set(m["entry"]) == {"open"}
    assert m.loc[m["code"] == "601211", ["matched_text", "kind"]].drop_duplicates().values.tolist() == [
        ["国泰君安", "former"]]
    assert set(r.marks["code"]) == SUBJECTS                    # brokers (weight 0) make no mark
    assert set(r.marks["date"].astype(str)) == {"2024-12-16"}
    strongest = dict(zip(r.marks["code"], r.marks["role"]))
    assert strongest["002354"] == strongest["000785"] == strongest["301382"] == "momentum"
    assert strongest["688608"] == "broker" and strongest["002908"] == "cooperation"
    assert set(r.marks["theme"]) <= {"豆包", "AI眼镜"}
    # the only unknown is an industry word of the form XX传媒 ("广告传媒、短视频等领域"): listed, not used
    assert r.unknown["text"].tolist() == ["广告传媒"]


def _key(master_codes, bse_in_names):
    out = {}
    with open(NEWS / "articles_public.jsonl", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            # BSE companies (8xxxxx) are absent from the 2025 names file: only counted when the
            # 2023 file (which lists them) is loaded.
            out[rec["id"]] = {c["code"] for c in rec["companies"]
                              if bse_in_names or not c["code"].startswith("8")}
            assert out[rec["id"]] <= master_codes
    return out


@pytest.mark.parametrize("with_2023", [True, False])
def test_public_articles_recall_and_precision(master, master_current, with_2023):
    mst = master if with_2023 else master_current
    key = _key(set(mst.frame.index), with_2023)
    r = analyze([NEWS / "articles_public.jsonl"], mst)
    found = r.mentions.groupby("article_id")["code"].agg(set).to_dict()
    tp = sum(len(found.get(a, set()) & k) for a, k in key.items())
    n_key = sum(len(k) for k in key.values())
    n_found = sum(len(found.get(a, set())) for a in key)
    recall, precision = tp / n_key, tp / n_found
    print(f"names {'2025+2023' if with_2023 else '2025 only'}: {tp}/{n_key} found, "
          f"recall {recall:.3f}, precision {precision:.3f}")
    assert n_key == (36 if with_2023 else 33)
    assert recall >= 0.95 and precision >= 0.95


def test_public_articles_sessions_follow_the_time_policies(master):
    r = analyze([NEWS / "articles_public.jsonl"], master)
    sessions = {a: (str(s), e) for a, (s, e) in r.sessions.items()}
    assert sessions == {
        "pub-2024-09-23-hongmeng-stockstar": ("2024-09-24", "open"),     # bare date -> next session
        "pub-2024-12-03-guzi-futunn": ("2024-12-04", "open"),            # 20:03 after the close
        "pub-2025-01-14-xiaohongshu-yxiu": ("2025-01-15", "open"),       # bare date
        "pub-2025-01-06-aiglasses-yicai-guba": ("2025-01-07", "open"),   # 17:46 after the close
    }
    r2 = analyze([NEWS / "articles_public.jsonl"], master, bare_date="same_day_open")
    assert str(r2.sessions["pub-2024-09-23-hongmeng-stockstar"][0]) == "2024-09-23"
    # the AI眼镜 sell-off and the 天地板 wrap are risk stories: no entry marks from them
    dates = set(r.marks["date"].astype(str))
    assert "2025-01-07" not in dates and "2024-12-04" not in dates


def test_backtest_from_the_real_article_end_to_end(shared_data, tmp_path, capsys):
    from backtests.cli.main import main

    cfg = tmp_path / "doubao_articles.toml"
    cfg.write_text(f"""
[data]
path = "{REAL_PANEL}"
names = ["{REAL_NAMES}", "{REAL_NAMES_2023}"]
start = "2024-12-02"
end = "2024-12-31"

[signals]
articles = ["{NEWS / 'doubao_concept_20241216.json'}"]
min_score = 0.5

[strategy]
max_positions = 13

[portfolio]
position_size = 0.07
""", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["backtest", str(cfg), "--out", str(out)]) == 0
    orders = pd.read_csv(out / "orders.csv", dtype={"code": str})
    first = orders[(orders["date"] == "2024-12-16") & (orders["side"] == "buy")]
    assert set(first["code"]) == SUBJECTS

    def row(code):
        return first.loc[first["code"] == code].iloc[0]

    assert (row("000785")["status"], row("000785")["reject_reason"]) == ("rejected", "limit_up_sealed")
    assert (row("002354")["status"], row("002354")["price"]) == ("filled", 8.80)
    signals = pd.read_csv(out / "signals.csv", dtype={"code": str})
    assert set(signals["code"]) == SUBJECTS

"""Mention precision/recall and role accuracy on the labelled real articles of
tests/data/news_labelled.jsonl (excerpts of public pages, each company with the role its text
states; see the file's notes) -- the figures docs/signals.md reports."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from backtests.data.master import load_master
from signals.marks import analyze
from signals.normalize import normalize_text
from tests.conftest import REAL_NAMES, REAL_NAMES_2023

LABELLED = Path(__file__).parent / "data" / "news_labelled.jsonl"


def evaluate(master, path) -> dict:
    """Counts: mentions found/expected/right, and role right/total (all roles, and only the
    companies labelled momentum or risk). A company's predicted role is the role of its article
    contribution (signals.marks: the most negative weight if any, else the largest)."""
    with open(path, encoding="utf-8") as fh:
        recs = [json.loads(line) for line in fh]
    codes = set(master.frame.index)
    r = analyze([path], master)
    found = r.mentions.groupby("article_id")["code"].agg(set).to_dict()
    role = {}
    for (aid, code), g in r.mentions.groupby(["article_id", "code"]):
        low = g.loc[g["weight"].idxmin()]
        role[(aid, code)] = (low if low["weight"] < 0 else g.loc[g["weight"].idxmax()])["role"]
    out = {"tp": 0, "key": 0, "found": 0, "roles_ok": 0, "roles": 0, "mr_ok": 0, "mr": 0,
           "wrong": []}
    for rec in recs:
        key = {c["code"] for c in rec["companies"] if c["code"] in codes}
        got = found.get(rec["id"], set())
        out["tp"] += len(got & key)
        out["key"] += len(key)
        out["found"] += len(got)
        for c in rec["companies"]:
            if c["code"] not in codes:
                continue
            pred = role.get((rec["id"], c["code"]))
            out["roles"] += 1
            out["roles_ok"] += pred == c["role"]
            if c["role"] in ("momentum", "risk"):
                out["mr"] += 1
                out["mr_ok"] += pred == c["role"]
            if pred != c["role"]:
                out["wrong"].append((rec["id"], c["name"], c["role"], pred))
    return out


@pytest.fixture(scope="module")
def master(shared_data):
    return load_master(REAL_NAMES, REAL_NAMES_2023)


def test_labelled_set_is_well_formed():
    roles = {"source", "risk", "momentum", "cooperation", "broker", "catalyst", "mention"}
    ids = set()
    for line in LABELLED.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        assert rec["id"] not in ids
        ids.add(rec["id"])
        assert rec["url"].startswith("http") and rec["published"] and rec["companies"]
        # names are labelled simplified, as listed; the text may be traditional, with pinyin
        # artefacts, or name the company only by its code (603843)
        text = normalize_text(rec["title"] + "\n" + rec["body"])[0]
        for c in rec["companies"]:
            assert len(c["code"]) == 6 and c["role"] in roles and c["text"]
            # `written`: how the text names it when that is not the listed name (a legal name,
            # characters the traditional table lacks)
            written = normalize_text(c.get("written", c["name"]))[0]
            assert written in text or c["code"] in text, (rec["id"], c)


def test_labelled_precision_recall_and_roles(master):
    e = evaluate(master, LABELLED)
    recall, precision = e["tp"] / e["key"], e["tp"] / e["found"]
    print(f"labelled: recall {e['tp']}/{e['key']} = {recall:.3f}, precision {e['tp']}/{e['found']} "
          f"= {precision:.3f}, roles {e['roles_ok']}/{e['roles']}, momentum/risk "
          f"{e['mr_ok']}/{e['mr']}; wrong: {e['wrong']}")
    # the figures docs/signals.md reports ("Labelled set"); a rules change may raise them, never
    # lower them
    assert e["key"] == 250 and e["mr"] == 223 and e["roles"] == 250
    assert e["tp"] >= 249 and e["found"] == e["tp"]             # recall 249/250, precision 1.000
    assert e["mr_ok"] >= 219                                      # momentum/risk 219/223 = 0.982
    assert e["roles_ok"] >= 238                                   # all roles 238/250 = 0.952
    # the misses, each explained in docs/signals.md: underwriters named in a clause about someone
    # else's 澄清; the concept word 机器人 auto-linked to the stock; reported speech (南京化纤指出);
    # an exception (除了石大胜华以外); a creditor in a court case (华泰证券); an intraday reversal
    # and a halt told in the next clause (赣能股份, 三羊马); a buyer in a tender (中国移动); a legal
    # name (中国国际金融股份有限公司); yesterday's limit-down before today's limit-up (工业富联); a
    # price compared (贵州茅台)
    assert {(w[0][4:14], w[1]) for w in e["wrong"]} <= {
        ("2025-10-13", "中金公司"), ("2025-10-13", "中信证券"), ("2025-04-23", "机器人"),
        ("2024-12-03", "南京化纤"), ("2025-12-12", "石大胜华"), ("2022-09-23", "华泰证券"),
        ("2022-07-19", "赣能股份"), ("2025-08-21", "中国移动"), ("2023-04-20", "中金公司"),
        ("2023-04-20", "工业富联"), ("2025-08-28", "贵州茅台"), ("2021-12-22", "三羊马")}

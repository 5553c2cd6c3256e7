"""SYNTHETIC news articles with the shape of real market news, for the news benchmarks.

Articles of about ``chars`` characters built from sentence templates modelled on real 财联社 /
证券时报 / 东方财富 market wraps (tests/data/news_labelled.jsonl): limit-up lists (甲、乙、丙等涨停),
codes in brackets, interactive-platform replies, broker reports, sell-downs and broken boards,
and neutral sentences full of numbers (indices, turnover, dates, percentages). Each article names
``names`` stocks (default 10, the density of the labelled set: 8-20 per 2,000 characters) and now
and then a common word that is also a stock name (机器人产业, 太阳能发电). Fixed seed: the same
arguments give the same articles. Every article is marked SYNTHETIC in its source.
"""
from __future__ import annotations

import numpy as np

BROKERS = ("国海证券", "东方证券", "招商证券", "中信建投", "华泰证券", "广发证券")
EVENTS = (
    "{a}、{b}、{c}等多股涨停，{d}涨超{p}%。",
    "截至{hh}:{mm}，{a}、{b}涨停，{c}、{d}等纷纷大涨。",
    "{a}({code})在互动平台表示，公司与相关方在大模型应用方面有合作。",
    "据{broker}研报，{a}、{b}有望受益，维持买入评级。",
    "{a}公告称，股东拟减持不超过{n}万股，占总股本{p}%。",
    "{a}盘中炸板，{b}跌停，{c}冲高回落。",
    "{a}收获{k}天{j}板，{b}首板涨停。",
    "{a}、{b}近期接受机构调研，披露了相关业务进展。",
    "{a}：公司产品已接入相关平台，目前订单饱满。",
    "{a}股价大涨{p}%，成交额{n}亿元。",
)
NEUTRAL = (
    "沪指收涨{p}%，深成指涨{p}%，创业板指跌{p}%，两市成交额{n}亿元，较上一交易日放量{n}亿元。",
    "数据显示，{m}月{d}日北向资金净流入{n}亿元，主力资金净流出{n}亿元。",
    "市场人士认为，随着政策持续发力，行业景气度有望进一步提升，相关产业链公司业绩或将迎来改善。",
    "分析人士指出，人工智能大模型的商业化进程正在加速，算力需求持续增长，应用端有望迎来爆发。",
    "从板块来看，半导体、消费电子、传媒等板块涨幅居前，银行、煤炭、石油等板块跌幅居前。",
    "机构预计，{y}年行业市场规模将达到{n}亿元，年复合增长率超过{p}%。",
    "消息面上，{m}月{d}日，相关部门发布通知，提出加快推进新型基础设施建设。",
    "机器人产业链上下游企业加快布局，太阳能发电装机容量同比增长{p}%。",
    "业内人士表示，短期市场情绪较为亢奋，投资者需注意追高风险，关注业绩确定性较强的标的。",
    "据不完全统计，年内已有{k}家公司披露相关进展，合计金额超过{n}亿元。",
)


def _fill(rng, template: str, names: list[str], codes: list[str]) -> str:
    vals = {"p": f"{rng.uniform(0.1, 20):.2f}", "n": str(int(rng.integers(1, 9999))),
            "hh": f"{int(rng.integers(9, 15)):02d}", "mm": f"{int(rng.integers(0, 60)):02d}",
            "m": str(int(rng.integers(1, 13))), "d": str(int(rng.integers(1, 29))),
            "y": str(int(rng.integers(2024, 2031))), "k": str(int(rng.integers(2, 10))),
            "j": str(int(rng.integers(2, 6))), "broker": BROKERS[int(rng.integers(len(BROKERS)))]}
    for key in "abcd":
        if "{" + key + "}" in template:
            vals[key] = names.pop() if names else "相关公司"
    if "{code}" in template:
        vals["code"] = codes[int(rng.integers(len(codes)))]
    return template.format(**vals)


def make_records(stock_names: list[str], stock_codes: list[str], n: int, *, chars: int = 2000,
                 names: int = 10, seed: int = 7, start: str = "2020-01-02",
                 first: int = 0) -> list[dict]:
    """``n`` SYNTHETIC article records (id, published, source, url, title, body); published times
    spread from ``start`` on (about 1,000 articles a day, at any hour), article ``i`` of the
    series at ``(first + i) × 1.44`` minutes, so that chunks made with ``first`` = the number
    made before continue the same timeline.

    Sentences come from a pool (4,000 filled templates, names left as ``{}`` slots) so that a
    million articles take seconds; each article draws its own sentences and names, and ends with
    its serial number, so no two are the same text."""
    rng = np.random.default_rng(seed)
    pool_rng = np.random.default_rng(seed + 1)
    events, neutral = [], []
    for k in range(2000):
        t = EVENTS[k % len(EVENTS)]
        slots = sum(("{" + x + "}") in t for x in "abcd")
        filled = _fill(pool_rng, t, ["\x00"] * slots, stock_codes)
        events.append((filled.replace("{", "{{").replace("}", "}}").replace("\x00", "{}"), slots))
        neutral.append(_fill(pool_rng, NEUTRAL[k % len(NEUTRAL)], [], stock_codes))
    t0 = np.datetime64(start + "T00:00:00")
    out = []
    name_arr = np.asarray(stock_names, dtype=object)
    for i in range(n):
        pick = list(name_arr[rng.integers(0, len(stock_names), names)])
        parts: list[str] = []
        size = 0
        draws = rng.random(64)
        idx = rng.integers(0, 2000, 64)
        k = 0
        while size < chars:
            if pick and draws[k % 64] < 0.35:
                tpl, slots = events[idx[k % 64]]
                use = [pick.pop() if pick else "相关公司" for _ in range(slots)]
                sent = tpl.format(*use)
            else:
                sent = neutral[idx[k % 64]]
            parts.append(sent)
            size += len(sent)
            if draws[(k + 7) % 64] < 0.15:
                parts.append("\n")
            k += 1
        parts.append(f"（第{i}号）")
        body = "".join(parts)
        when = str(t0 + np.timedelta64(int((first + i) * 1.44 * 60), "s"))
        out.append({"id": f"SYNTHETIC-{seed}-{i}", "published": when.replace("T", " ") + "+08:00",
                    "source": "SYNTHETIC benchmark", "url": f"https://example.invalid/{seed}/{i}",
                    "title": body[:24], "body": body})
    return out

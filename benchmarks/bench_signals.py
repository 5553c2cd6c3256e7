"""Benchmark: stock-mention extraction throughput with the full real name dictionary.

    .venv/bin/python benchmarks/bench_signals.py [--articles 10000] [--chars 2000] [--baseline 100]

Builds the stock master from ``../shared/data`` (current names + the 2023 file for former names:
~5,800 stocks, ~6,300 dictionary keys with aliases), generates SYNTHETIC articles of about
``--chars`` characters (finance filler words, punctuation, 6 stock names, a code, role keywords;
fixed seed) and times:

1. ``Extractor.extract`` per article (normalisation, Aho-Corasick names, codes, unknown names,
   themes, sentence roles) -> articles per second;
2. ``analyze`` end to end on the same articles (sessions and marks included);
3. two naive baselines on ``--baseline`` articles in the same process: ``str.find`` of every
   name, and one compiled regex per name — and the speed-up against each.

Rates are reported in wall time and in CPU time of this process; the ratios and the target use
CPU time, which stays meaningful when the machine is shared.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from backtests.data.master import load_master
from signals.articles import Article
from signals.extract import Extractor
from signals.marks import analyze
from signals.normalize import normalize_text

DATA = os.environ.get("HYPEBT_SHARED_DATA",
                      os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
FILLER = ("市场", "公司", "业绩", "增长", "投资者", "板块", "资金", "净流入", "机构", "数据显示", "同比",
          "营收", "利润", "行业", "需求", "产能", "订单", "政策", "消费", "科技", "发展", "趋势", "预期",
          "估值", "指数", "成交额", "换手率", "北向资金", "主力", "题材", "龙头", "产业链", "上游", "下游",
          "人工智能", "大模型", "算力", "芯片", "新能源", "光伏", "储能", "汽车", "医药", "白酒", "银行",
          "地产", "券商", "保险", "太阳能", "机器人", "农产品", "长城", "中国", "发布", "表示", "认为")
ROLE_WORDS = ("涨停", "连板", "3天2板", "20CM", "互动平台", "合作", "研报", "推荐", "受益标的", "大会",
              "减持", "问询", "风险提示")
PUNCT = ("，", "，", "，", "。", "、", "；")


def make_articles(names: list[str], codes: list[str], n: int, chars: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    out = []
    base = pd.Timestamp("2024-08-01 08:00", tz="Asia/Shanghai")
    for i in range(n):
        parts: list[str] = []
        size = 0
        picks = rng.choice(len(names), 6, replace=False)
        slots = set(rng.choice(60, 8, replace=False).tolist())
        k = 0
        while size < chars:
            if k in slots and picks.size:
                w = names[picks[0]]
                picks = picks[1:]
            elif k == 30:
                w = f"({codes[int(rng.integers(len(codes)))]}.SZ)"
            elif rng.random() < 0.08:
                w = ROLE_WORDS[int(rng.integers(len(ROLE_WORDS)))]
            else:
                w = FILLER[int(rng.integers(len(FILLER)))]
            parts.append(w)
            size += len(w)
            if rng.random() < 0.3:
                parts.append(PUNCT[int(rng.integers(len(PUNCT)))])
                size += 1
            k += 1
        body = "".join(parts)
        published = base + pd.Timedelta(hours=int(i * 7 % 5000))
        out.append(Article(id=f"SYNTHETIC-bench-{i}", published=published, title=body[:20],
                           body=body, source="SYNTHETIC benchmark"))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=10_000)
    ap.add_argument("--chars", type=int, default=2_000)
    ap.add_argument("--baseline", type=int, default=100)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    master = load_master(os.path.join(DATA, "ashare_names_20250418.csv"),
                         os.path.join(DATA, "ashare_codes_names_listdates_2023.csv"))
    ex = Extractor(master)
    t_build = time.perf_counter() - t0
    names = sorted(master.name_index())
    codes = list(master.frame.index)
    articles = make_articles([master.name_of(c) for c in codes], codes, args.articles, args.chars)
    mean_len = np.mean([len(a.title) + len(a.body) for a in articles])
    print(f"dictionary: {len(master)} stocks, {len(names)} current+former names, "
          f"{ex.matcher.n_names} keys with aliases; built in {t_build:.2f} s")
    print(f"articles: {len(articles)} SYNTHETIC, mean {mean_len:.0f} characters")

    t0, c0 = time.perf_counter(), time.process_time()
    n_mentions = sum(len(ex.extract(a).mentions) for a in articles)
    t_ex, c_ex = time.perf_counter() - t0, time.process_time() - c0
    rate = len(articles) / t_ex
    print(f"extract:  {t_ex:.2f} s wall, {rate:,.0f} articles/s; {c_ex:.2f} s CPU, "
          f"{len(articles) / c_ex:,.0f} articles/s of CPU time (the machine may be shared); "
          f"{n_mentions:,} mentions ({n_mentions / len(articles):.1f} per article)")

    t0 = time.perf_counter()
    res = analyze(articles, master, extractor=ex)
    t_an = time.perf_counter() - t0
    print(f"analyze:  {t_an:.2f} s, {len(articles) / t_an:,.0f} articles/s end to end "
          f"({len(res.marks):,} marks)")

    sub = articles[:args.baseline]
    texts = [normalize_text(f"{a.title}\n{a.body}")[0] for a in sub]
    t0 = time.process_time()
    naive_find = 0
    for text in texts:
        for name in names:
            start = text.find(name)
            while start >= 0:
                naive_find += 1
                start = text.find(name, start + 1)
    t_find = (time.process_time() - t0) / len(sub)
    regexes = [re.compile(re.escape(n)) for n in names]
    t0 = time.process_time()
    naive_re = 0
    for text in texts:
        for rx in regexes:
            naive_re += sum(1 for _ in rx.finditer(text))
    t_re = (time.process_time() - t0) / len(sub)
    per = c_ex / len(articles)          # CPU time per article: comparable on a shared machine
    print(f"baseline str.find per name ({len(sub)} articles): {1 / t_find:,.0f} articles/s CPU "
          f"-> Aho-Corasick pipeline is {t_find / per:.1f}x faster")
    print(f"baseline one regex per name ({len(sub)} articles): {1 / t_re:,.0f} articles/s CPU "
          f"-> Aho-Corasick pipeline is {t_re / per:.1f}x faster")
    cpu_rate = len(articles) / c_ex
    target = "above" if cpu_rate > 2_000 else "BELOW"
    print(f"target 2,000 articles/s (CPU time): {target} ({cpu_rate:,.0f}; wall {rate:,.0f}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

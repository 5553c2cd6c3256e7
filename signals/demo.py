"""SYNTHETIC demo articles for the SYNTHETIC demo market (:mod:`backtests.data.demo`).

``demo_articles.jsonl`` holds eleven invented news items (ids ``SYNTHETIC-demo-NN``, source
"SYNTHETIC demo article", titles starting 【演示·虚构】) about the demo themes of
:data:`backtests.data.demo.DEMO_THEMES`, timed around each theme's event date so that ``hypebt demo``
exercises every timing rule and produces real trades and rejections:

====  ==========================  ===============================  ==========================
 id   published (Beijing)          what it shows                    session / effect
====  ==========================  ===============================  ==========================
 01   Sun 2024-02-25 20:00         closed day; cooperation, broker  02-26 open
 02   Mon 2024-02-26 18:30         after the close; momentum        02-27: leader 一字板 (sealed)
 03   Mon 2024-04-15 10:45         intraday → next open            04-16: leader 一字板 (sealed)
 04   2024-04-14 (bare date)       bare date → next session;        04-15; a BSE stock by code
                                   ``920118.BJ``
 05   Sat 2024-06-15 09:00         HTML body (tags, &nbsp;)         06-17 open
 06   Tue 2024-06-25 19:30         risk warning (减持, 风险提示)     no mark (negative score)
 07   Mon 2024-09-02 08:45         before the open; ``sz300833``    09-02 open
 08   Tue 2024-09-03 16:10         after the close; ``688566.SH``   09-04: leader 一字板 (sealed)
 09   2024-11-17 13:00 UTC         other time zone → 21:00 +08:00   11-18 open
 10   Tue 2024-11-19 15:30         after the close                 11-20 open
 11   Wed 2024-11-20 12:00         lunch break = intraday;          note "names no listed stock"
                                   names no stock
====  ==========================  ===============================  ==========================

Nothing here is real: the companies are the demo market's ``演示…`` names.
"""
from __future__ import annotations

from pathlib import Path

# Path of the SYNTHETIC demo articles (JSON Lines).
DEMO_ARTICLES = str(Path(__file__).resolve().parent / "demo_articles.jsonl")

"""Prove that a change leaves every user-visible output byte-identical.

Runs every shipped config and every README command through the CLI (``python -m backtests``),
hashes each file written and each command's stdout, and either records the hashes
(``--record FILE``) or compares them with a recording (``--check FILE``), printing every
difference. Real-data commands run when ``../shared/data`` (or ``$HYPEBT_SHARED_DATA``) exists
and are listed as skipped otherwise.

    python benchmarks/check_outputs.py --record /tmp/before.json     # on the old code
    python benchmarks/check_outputs.py --check /tmp/before.json      # on the new code

Timings in a command's output are masked. Outputs go to ``runs/_check_outputs/`` under the repository (removed first), so the paths
printed by the commands are the same on every run.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HYPEBT_SHARED_DATA", REPO.parent / "shared" / "data"))
OUT = "runs/_check_outputs"
PANEL = str(SHARED / "ashare_daily_20240719_20250523.csv.gz")
NAMES = [str(SHARED / "ashare_names_20250418.csv"),
         str(SHARED / "ashare_codes_names_listdates_2023.csv")]

# (name, argv after `hypebt`, needs real data)
COMMANDS: list[tuple[str, list[str], bool]] = [
    ("help", ["--help"], False),
    ("demo", ["demo", "--out", f"{OUT}/demo"], False),
    ("backtest-demo", ["backtest", "configs/demo.toml", "--out", f"{OUT}/bt-demo"], False),
    ("backtest-demo-marks", ["backtest", "configs/demo_marks.toml", "--out", f"{OUT}/bt-demo-marks"],
     False),
    ("grid-demo", ["grid", "configs/demo_grid.toml", "--top", "1", "--out", f"{OUT}/grid-demo"],
     False),
    ("report-demo", ["report", f"{OUT}/bt-demo"], False),
    ("signals-demo", ["signals", "demo"], False),
    ("scan-demo", ["scan", "--date", "2024-03-01"], False),
    ("scan-demo-summary", ["scan", "--summary", "--start", "2024-03-01", "--end", "2024-03-29"],
     False),
    ("crosscheck-demo", ["crosscheck", "configs/demo.toml"], False),
    ("crosscheck-demo-grid", ["crosscheck", "configs/demo_grid.toml", "--sample", "4"], False),
    ("scan-real", ["scan", "--date", "2024-12-13", "--data", PANEL, "--names", NAMES[0]], True),
    ("scan-real-summary", ["scan", "--summary", "--start", "2024-12-02", "--end", "2024-12-13",
                           "--data", PANEL, "--names", NAMES[0]], True),
    ("signals-real", ["signals", str(SHARED / "news/doubao_concept_20241216.json"), "--names",
                      *NAMES], True),
    ("signals-real-public", ["signals", str(SHARED / "news/articles_public.jsonl"), "--names",
                             *NAMES, "--format", "csv"], True),
    ("backtest-real", ["backtest", "configs/real_doubao.toml", "--out", f"{OUT}/bt-real"], True),
    ("backtest-real-articles", ["backtest", "configs/real_doubao_articles.toml", "--out",
                                f"{OUT}/bt-real-articles"], True),
    ("grid-real", ["grid", "configs/real_doubao_grid.toml", "--top", "1", "--out",
                   f"{OUT}/grid-real"], True),
    ("crosscheck-real", ["crosscheck", "configs/real_doubao.toml"], True),
]


# Wall-clock figures in command output ("0.42 s", "12 ms", "3,100 sets/s") differ run to run.
TIMING = re.compile(rb"\d[\d,]*(?:\.\d+)? ?(?:ms|s|sets/s|x)\b")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run_all() -> dict[str, str]:
    """Run every command; return {key: sha256} for stdout, exit code and each file written."""
    shutil.rmtree(REPO / OUT, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="100", PYTHONHASHSEED="0")
    hashes: dict[str, str] = {}
    for name, argv, real in COMMANDS:
        if real and not (SHARED / "ashare_daily_20240719_20250523.csv.gz").exists():
            print(f"skipped {name}: no real data at {SHARED}")
            continue
        proc = subprocess.run([sys.executable, "-m", "backtests", *argv], cwd=REPO, env=env,
                              capture_output=True)
        hashes[f"{name}:exit"] = str(proc.returncode)
        hashes[f"{name}:stdout"] = _sha(TIMING.sub(b"<time>", proc.stdout))
        print(f"ran {name}: exit {proc.returncode}")
    for path in sorted((REPO / OUT).rglob("*")):
        if path.is_file():
            hashes[f"file:{path.relative_to(REPO / OUT).as_posix()}"] = _sha(path.read_bytes())
    return hashes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--record", metavar="FILE")
    group.add_argument("--check", metavar="FILE")
    args = ap.parse_args()
    hashes = run_all()
    if args.record:
        Path(args.record).write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n")
        print(f"recorded {len(hashes)} hashes in {args.record}")
        return 0
    before = json.loads(Path(args.check).read_text())
    diffs = [k for k in sorted(set(before) | set(hashes)) if before.get(k) != hashes.get(k)]
    for key in diffs:
        print(f"DIFFERS {key}: {before.get(key, 'missing')[:12]} -> {hashes.get(key, 'missing')[:12]}")
    print(f"{len(hashes) - len(diffs)} of {len(set(before) | set(hashes))} outputs identical")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: whole ``hypebt`` processes as a user runs them (CPU, wall, peak memory).

    .venv/bin/python benchmarks/bench_e2e.py [--real] [--panel DIR] [--repeat 3] [--json FILE]
        [--only NAME,NAME]

Each case is one fresh ``hypebt`` process (``python -m backtests`` after the layout move,
``backtests.cli.main`` before); its CPU time (user + system) and peak resident memory come from
GNU ``/usr/bin/time`` (Debian package ``time``), its wall time from this process. Every case runs ``--repeat`` times and the median is printed.
``cold`` runs start with an empty market cache (a fresh ``HYPEBT_CACHE_DIR``), ``warm`` runs
reuse the cache the cold run built (before the cache existed, both are the same work).

Peers measured in this process on the same inputs, printed as ratios:

- ``kernel``: ``run_backtest`` of the same config on the already loaded market (median of 3,
  after a warm-up call), i.e. what the engine itself costs;
- ``read_table``: a bare ``pyarrow.parquet.read_table`` of the panel file (median of 3).

It also prints the start-up floor: a process that only imports pandas and calls one cached
numba kernel, which every run pays before any work.

``--real`` measures on the real panel in ``../shared/data`` (configs/real_doubao_articles.toml,
configs/real_doubao_grid.toml); ``--panel DIR`` on a folder written by
``benchmarks/make_panel.py`` (its backtest.toml and grid.toml). Both may be given.
Run heavy cases under the lock: ``flock /work/heavy.lock .venv/bin/python benchmarks/...``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("HYPEBT_SHARED_DATA", REPO.parent / "shared" / "data"))
REAL_PANEL = SHARED / "ashare_daily_20240719_20250523.csv.gz"
NAMES = [SHARED / "ashare_names_20250418.csv", SHARED / "ashare_codes_names_listdates_2023.csv"]


def hypebt_argv() -> list[str]:
    """The command that starts the CLI in a fresh interpreter, in either package layout."""
    if (REPO / "backtests" / "__main__.py").exists():
        return [sys.executable, "-m", "backtests"]
    return [sys.executable, "-c", "import sys; from backtests.cli import main; sys.exit(main())"]


def run_once(argv: list[str], *, cwd: Path, env: dict) -> dict:
    """One process: ``cpu`` (user+sys s), ``wall`` (s), ``rss`` (peak MiB), ``rc``.

    Measured by GNU ``/usr/bin/time``: a child's peak RSS counts the memory of the process it
    was forked from, so the case must not be forked from this (large) benchmark process."""
    if not os.path.exists("/usr/bin/time"):           # no GNU time: os.wait4 (its peak RSS
        return _run_wait4(argv, cwd=cwd, env=env)     # may include this process's)
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        t0 = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", report.name, *argv],
                              cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        wall = time.perf_counter() - t0
        user, system, rss_kb = report.read().split()[-3:]
    rc = proc.returncode
    if rc != 0:
        print(f"    ! exit {rc}: {' '.join(map(str, argv[3:]))}\n      "
              + proc.stderr.decode(errors="replace").strip().replace("\n", "\n      ")[-1500:])
    return {"cpu": float(user) + float(system), "wall": wall, "rss": int(rss_kb) / 1024, "rc": rc}


def _run_wait4(argv: list[str], *, cwd: Path, env: dict) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"cpu": ru.ru_utime + ru.ru_stime, "wall": time.perf_counter() - t0,
            "rss": ru.ru_maxrss / 1024, "rc": proc.returncode}


def measure(name: str, args: list[str], *, cwd: Path, repeat: int, cache: str,
            cache_dir: Path) -> dict:
    """Median of ``repeat`` runs; ``cache``: ``cold`` empties the cache dir before each run,
    ``warm`` runs once untimed first to fill it."""
    env = dict(os.environ, HYPEBT_CACHE_DIR=str(cache_dir), PYTHONPATH=str(REPO))
    argv = hypebt_argv() + [str(a) for a in args]
    if cache == "warm":
        run_once(argv, cwd=cwd, env=env)
    runs = []
    for _ in range(repeat):
        if cache == "cold":
            shutil.rmtree(cache_dir, ignore_errors=True)
        runs.append(run_once(argv, cwd=cwd, env=env))
    out = {k: statistics.median(r[k] for r in runs) for k in ("cpu", "wall", "rss")}
    out.update(name=name, cache=cache, rc=max(r["rc"] for r in runs), runs=len(runs))
    return out


def peers(config: Path, panel: Path) -> dict:
    """In-process ``kernel`` (run_backtest on the loaded market) and ``read_table`` seconds."""
    import pyarrow.parquet as pq

    try:                                        # the layered package (issue 9) ...
        from backtests.data.config import load_config
        from backtests.engine.run import prepare_run, run_config
    except ModuleNotFoundError:                 # ... or the flat one before it
        from backtests.config import load_config
        from backtests.run import prepare_run, run_config
    out = {}
    if panel.suffix == ".parquet":
        ts = []
        for _ in range(3):
            t = time.perf_counter()
            pq.read_table(panel)
            ts.append(time.perf_counter() - t)
        out["read_table"] = statistics.median(ts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = load_config(config)
        prepared = prepare_run(cfg)
        run_config(cfg, prepared=prepared)
        ts = []
        for _ in range(3):
            t = time.perf_counter()
            run_config(cfg, prepared=prepared)
            ts.append(time.perf_counter() - t)
    out["kernel"] = statistics.median(ts)
    return out


def parquet_copy(csv_gz: Path, tmp: Path) -> Path:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out = tmp / "real_panel.parquet"
    raw = pacsv.read_csv(csv_gz, convert_options=pacsv.ConvertOptions(
        column_types={"code": "string", "date": "string"}))
    pq.write_table(raw, out)
    return out


def cases_real(tmp: Path, report_flag: bool) -> tuple[list, Path, Path]:
    """Cases on the real panel (the configs' CSV.GZ; peers on a Parquet copy)."""
    art = SHARED / "news" / "doubao_concept_20241216.json"
    cfg = REPO / "configs" / "real_doubao_articles.toml"
    grid = REPO / "configs" / "real_doubao_grid.toml"
    out = tmp / "out"
    cases = [
        ("help", ["--help"], ("warm",)),
        ("backtest", ["backtest", cfg, "--out", out / "bt"], ("cold", "warm")),
        ("grid 360 sets", ["grid", grid, "--out", out / "grid", "--no-progress"], ("warm",)),
        ("scan --summary", ["scan", "--summary", "--data", REAL_PANEL, "--names", *NAMES,
                            "--start", "2024-11-01", "--end", "2025-02-28"],
         ("warm",)),
        ("signals", ["signals", art, "--names", *NAMES], ("warm",)),
    ]
    if report_flag:
        cases.insert(2, ("backtest --no-report", ["backtest", cfg, "--out", out / "bt0",
                                                  "--no-report"], ("cold", "warm")))
    if has_flag("--quantstats"):
        cases.insert(2, ("backtest --quantstats", ["backtest", cfg, "--out", out / "btq",
                                                   "--quantstats"], ("warm",)))
    return cases, cfg, parquet_copy(REAL_PANEL, tmp)


def cases_panel(panel_dir: Path, tmp: Path, report_flag: bool) -> tuple[list, Path, Path]:
    out = tmp / "out"
    cfg, grid = panel_dir / "backtest.toml", panel_dir / "grid.toml"
    pq_path = panel_dir / "panel.parquet"
    cases = [
        ("backtest", ["backtest", cfg, "--out", out / "bt"], ("cold", "warm")),
        ("grid 1,000 sets", ["grid", grid, "--out", out / "grid", "--no-progress"], ("warm",)),
        ("scan --summary", ["scan", "--summary", "--data", pq_path, "--names",
                            panel_dir / "names.csv", "--start", "2024-06-03",
                            "--end", "2025-05-23"], ("warm",)),
        ("signals", ["signals", panel_dir / "articles.jsonl", "--names", panel_dir / "names.csv"],
         ("warm",)),
    ]
    if report_flag:
        cases.insert(1, ("backtest --no-report", ["backtest", cfg, "--out", out / "bt0",
                                                  "--no-report"], ("cold", "warm")))
    if has_flag("--quantstats"):
        cases.insert(1, ("backtest --quantstats", ["backtest", cfg, "--out", out / "btq",
                                                   "--quantstats"], ("warm",)))
    return cases, cfg, pq_path


FLOOR = ("import numpy as np, pandas\n"
         "from backtests.engine.metrics_nb import returns_stats_nb\n"
         "returns_stats_nb(np.ones(3), 1.0)\n")


def floor(repeat: int, cache_dir: Path) -> dict:
    """The start-up floor of any run: a process that imports pandas and makes one call of a
    cached numba kernel (numba loads its type registries, and with them scipy.linalg, on the
    first call), nothing else."""
    env = dict(os.environ, HYPEBT_CACHE_DIR=str(cache_dir), PYTHONPATH=str(REPO))
    argv = [sys.executable, "-c", FLOOR]
    run_once(argv, cwd=REPO, env=env)
    runs = [run_once(argv, cwd=REPO, env=env) for _ in range(repeat)]
    return {k: statistics.median(r[k] for r in runs) for k in ("cpu", "wall", "rss")}


def has_flag(flag: str) -> bool:
    """Whether this tree's ``hypebt backtest`` has ``flag`` (older trees are benchmarked too)."""
    r = subprocess.run(hypebt_argv() + ["backtest", "--help"], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=REPO)
    return flag in r.stdout


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", action="store_true", help="cases on the real panel")
    ap.add_argument("--panel", type=Path, default=None, help="a make_panel.py output folder")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default=None, help="comma-separated case names to run")
    ap.add_argument("--json", type=Path, default=None, help="append results to this JSON file")
    args = ap.parse_args(argv)
    if not args.real and args.panel is None:
        args.real = True
    report_flag = has_flag("--no-report")
    only = set(args.only.split(",")) if args.only else None
    results = []
    with tempfile.TemporaryDirectory(prefix="hypebt-e2e-") as tmp_s:
        tmp = Path(tmp_s)
        suites = []
        if args.real:
            if not REAL_PANEL.exists():
                print(f"real panel not found: {REAL_PANEL} (set HYPEBT_SHARED_DATA); skipped")
            else:
                suites.append(("real 1-year panel",) + cases_real(tmp, report_flag))
        if args.panel is not None:
            suites.append((f"synthetic panel {args.panel.name}",)
                          + cases_panel(args.panel, tmp, report_flag))
        base = floor(args.repeat, tmp / "cache")
        print(f"start-up floor (python, pandas, one cached numba call): {base['cpu']:.2f} s CPU, "
              f"{base['rss']:.0f} MiB")
        for title, cases, cfg, pq_path in suites:
            pr = peers(cfg, pq_path)
            print(f"\n{title}: kernel (run_backtest, in process) {pr['kernel'] * 1000:.1f} ms; "
                  f"pyarrow.parquet.read_table {pr.get('read_table', float('nan')):.3f} s; "
                  f"median of {args.repeat}")
            print(f"  {'case':28s} {'cache':5s} {'CPU s':>7s} {'wall s':>7s} {'peak MiB':>9s} "
                  f"{'CPU/kernel':>11s} {'CPU/read_table':>15s}")
            for name, cargs, caches in cases:
                if only and name not in only:
                    continue
                for cache in caches:
                    r = measure(name, cargs, cwd=cfg.parent, repeat=args.repeat, cache=cache,
                                cache_dir=tmp / "cache")
                    r.update(suite=title, kernel=pr["kernel"], read_table=pr.get("read_table"))
                    results.append(r)
                    rt = r["cpu"] / pr["read_table"] if pr.get("read_table") else float("nan")
                    print(f"  {name:28s} {cache:5s} {r['cpu']:7.2f} {r['wall']:7.2f} "
                          f"{r['rss']:9.0f} {r['cpu'] / pr['kernel']:10.0f}x {rt:14.1f}x"
                          + ("" if r["rc"] == 0 else f"  (exit {r['rc']})"), flush=True)
    if args.json:
        old = json.loads(args.json.read_text()) if args.json.exists() else []
        args.json.write_text(json.dumps(old + results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

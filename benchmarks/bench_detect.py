"""Benchmark the detectors: speed on 1M events, memory on 10M, and Polars against pandas.

Usage::

    python benchmarks/bench_detect.py                 # 1M events: all detectors, pandas ratios
    python benchmarks/bench_detect.py --events 200000 # a smaller run
    python benchmarks/bench_detect.py --ten-million   # also 10M events from Parquet, peak memory
    python benchmarks/bench_detect.py --quality       # also precision/recall on the labelled frame
    python benchmarks/bench_detect.py --skip-million --stores s1m.db s10m.db
                                      # `auditkit detect` over stores: seconds, peak RSS
    python benchmarks/bench_detect.py --skip-million --make-store 1000000 s1m.db
                                      # make a store with `auditkit sample` and `ingest`

Targets (issues 4, 11 and 18): all detectors, the cross-tenant one included, over 1M
events in under 10 s on 2 cores; over 10M events with peak memory under 4 GiB, flat
from 1M to 10M; `auditkit detect` over a 10M-event store in under 60 s; the
windowed-count detectors at least 5x faster than a straightforward pandas
implementation measured in the same run.  The event frames come from the labelled
scenario generator of the tests (generating them is not timed).  Exit status 1 when
a target is missed.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditkit.analytics.detectors import available_detectors, run_detectors  # noqa: E402
from auditkit.analytics.detectors.auth import (  # noqa: E402
    brute_force,
    brute_force_success,
    mfa_push_fatigue,
    password_spraying,
)
from auditkit.analytics.detectors.exfiltration import mass_deletion, mass_export  # noqa: E402
from auditkit.analytics.detectors.privilege import privilege_change_burst  # noqa: E402
from tests.analytics._quality import quality_table  # noqa: E402
from tests.analytics._scenarios import generate_scenario  # noqa: E402

EVENTS_PER_TENANT = 30_000  # 40 actors over 6 weeks (about)
GIB = 1024**3


# --------------------------------------------------------------------------- pandas baseline
# A straightforward pandas version of each windowed-count detector, with the same
# semantics as the Polars one: sliding window (t - w, t] per key via groupby().rolling(),
# the events of windows reaching the threshold, bursts split where gaps reach w.


def _pd_bursts(
    df: pd.DataFrame,
    keys: list[str],
    window: timedelta,
    threshold: int,
    distinct: str | None = None,
) -> pd.DataFrame:
    if df.empty:
        return df.assign(_burst=pd.Series(dtype="int64"))
    df = df.sort_values([*keys, "occurred_at"], kind="stable").reset_index(drop=True)
    rolling = df.groupby(keys, sort=False).rolling(window, on="occurred_at")
    if distinct is None:
        peak = rolling["_one"].sum()
    else:
        peak = rolling[distinct].apply(lambda a: len(np.unique(a)), raw=True)
    df["_peak"] = peak.to_numpy()
    return _pd_windows(df, keys, window, df["_peak"] >= threshold, pd.Series(True, index=df.index))


def _pd_windows(
    df: pd.DataFrame, keys: list[str], window: timedelta, hot: pd.Series, member: pd.Series
) -> pd.DataFrame:
    df = df.assign(_hot=hot.to_numpy())
    hot_t = df["occurred_at"].where(df["_hot"])
    next_hot = hot_t.groupby([df[k] for k in keys]).bfill()
    keep = df["_hot"] | (member.to_numpy() & ((next_hot - df["occurred_at"]) < window))
    out = df[keep.to_numpy()].copy()
    changed = (out[keys] != out[keys].shift()).any(axis=1)
    gap = out["occurred_at"].diff() >= window
    out["_burst"] = (changed | gap).cumsum()
    return out


def _pd_findings(bursts: pd.DataFrame, key: str) -> list[frozenset[str]]:
    if bursts.empty:
        return []
    grouped = bursts.groupby("_burst")
    agg = grouped.agg(first=("occurred_at", "min"), last=("occurred_at", "max"), who=(key, "first"))
    ids = grouped["event_id"].apply(frozenset)
    return [ids[b] for b in agg.index]


def pd_brute_force(df: pd.DataFrame) -> list[frozenset[str]]:
    w = timedelta(minutes=15)
    fails = df[(df.action == "user.login") & (df.outcome == "failure")].assign(_one=1)
    by_actor = _pd_findings(_pd_bursts(fails, ["tenant_id", "actor_id"], w, 10), "actor_id")
    ip = _pd_bursts(fails[fails.source_ip.notna()], ["tenant_id", "source_ip"], w, 10)
    many = ip.groupby("_burst")["actor_id"].transform("nunique") >= 2 if not ip.empty else []
    by_ip = _pd_findings(ip[many] if not ip.empty else ip, "source_ip")
    return by_actor + by_ip


def pd_password_spraying(df: pd.DataFrame) -> list[frozenset[str]]:
    fails = df[(df.action == "user.login") & (df.outcome == "failure") & df.source_ip.notna()]
    fails = fails.assign(_code=fails["actor_id"].astype("category").cat.codes.astype("float64"))
    bursts = _pd_bursts(fails, ["tenant_id", "source_ip"], timedelta(hours=1), 10, "_code")
    return _pd_findings(bursts, "source_ip")


def _pd_mass(df: pd.DataFrame, pattern: str, threshold: int) -> list[frozenset[str]]:
    sel = df[
        df.action.str.contains(pattern)
        & (df.outcome == "success")
        & ~df.actor_type.isin(["system", "service"])
    ].assign(_one=1)
    bursts = _pd_bursts(sel, ["tenant_id", "actor_id"], timedelta(hours=1), threshold)
    return _pd_findings(bursts, "actor_id")


def pd_mass_export(df: pd.DataFrame) -> list[frozenset[str]]:
    return _pd_mass(df, r"\.(?:export|download)$", 50)


def pd_mass_deletion(df: pd.DataFrame) -> list[frozenset[str]]:
    return _pd_mass(df, r"\.delete$", 30)


def pd_privilege_change_burst(df: pd.DataFrame) -> list[frozenset[str]]:
    actions = ["role.grant", "role.revoke", "permission.grant", "permission.revoke"]
    sel = df[df.action.isin(actions)].assign(_one=1)
    bursts = _pd_bursts(sel, ["tenant_id", "actor_id"], timedelta(days=1), 10)
    return _pd_findings(bursts, "actor_id")


def _pd_followed(
    df: pd.DataFrame,
    action: str,
    member_outcome: str,
    minimum: int,
    window: timedelta,
    resets: bool = False,
) -> list[frozenset[str]]:
    keys = ["tenant_id", "actor_id"]
    wanted = (df.action == action) & df.outcome.isin([member_outcome, "success"])
    is_reset = df.action.isin(["password.reset", "password.change"]) & (df.outcome == "success")
    seq = df[wanted | (is_reset & resets)].copy()
    seq["_member"] = ((seq.action == action) & (seq.outcome == member_outcome)).astype("int64")
    seq["_ok"] = (seq.action == action) & (seq.outcome == "success")
    seq["_reset"] = seq.action != action
    order = [*keys, "occurred_at", "_member"] if not resets else [*keys, "occurred_at", "_ok"]
    ascending = [True, True, True, False] if not resets else [True, True, True, True]
    seq = seq.sort_values(order, ascending=ascending, kind="stable").reset_index(drop=True)
    counts = seq.groupby(keys, sort=False).rolling(window, on="occurred_at")["_member"].sum()
    seq["_peak"] = counts.to_numpy()
    hot = seq["_ok"] & (seq["_peak"] >= minimum)
    if resets:
        by = [seq[k] for k in keys]
        last_fail = seq["occurred_at"].where(seq["_member"] == 1).groupby(by).ffill()
        last_reset = seq["occurred_at"].where(seq["_reset"]).groupby(by).ffill()
        hot &= ~(last_reset.notna() & (last_reset >= last_fail))
    return _pd_findings(_pd_windows(seq, keys, window, hot, seq["_member"] == 1), "actor_id")


def pd_mfa_push_fatigue(df: pd.DataFrame) -> list[frozenset[str]]:
    return _pd_followed(df, "mfa.challenge", "denied", 5, timedelta(minutes=15))


def pd_brute_force_success(df: pd.DataFrame) -> list[frozenset[str]]:
    return _pd_followed(df, "user.login", "failure", 5, timedelta(minutes=30), resets=True)


WINDOWED: dict[str, tuple[Callable[..., pl.DataFrame], Callable[[pd.DataFrame], Any]]] = {
    "brute_force": (brute_force, pd_brute_force),
    "password_spraying": (password_spraying, pd_password_spraying),
    "mass_export": (mass_export, pd_mass_export),
    # the windowed count alone, as the baseline does (no accounts, backups or strangers)
    "mass_deletion": (
        partial(mass_deletion, account_threshold=30, backup_threshold=30, stranger_threshold=None),
        pd_mass_deletion,
    ),
    "privilege_change_burst": (privilege_change_burst, pd_privilege_change_burst),
    "mfa_push_fatigue": (mfa_push_fatigue, pd_mfa_push_fatigue),
    "brute_force_success": (brute_force_success, pd_brute_force_success),
}


# --------------------------------------------------------------------------- helpers


def _timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def build(events: int, *, seed: int = 7, first_tenant: int = 0) -> pl.DataFrame:
    tenants = max(3, round(events / EVENTS_PER_TENANT))
    return generate_scenario(
        tenants=tenants, actors=40, days=42, seed=seed, per_kind=2, first_tenant=first_tenant
    ).events


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB


# --------------------------------------------------------------------------- runs


def run_million(events: int, repeat: int, quality: bool) -> bool:
    t = time.perf_counter()
    tenants = max(3, round(events / EVENTS_PER_TENANT))
    scenario = generate_scenario(tenants=tenants, actors=40, days=42, seed=7, per_kind=2)
    df = scenario.events
    print(
        f"generated {df.height:,} events, {tenants} tenants in {time.perf_counter() - t:.1f} s "
        "(not timed)"
    )
    run_detectors(df.head(20_000))  # warm up thread pools and caches

    total, findings = _timed(lambda: run_detectors(df), repeat)
    print(
        f"\nall {len(available_detectors())} detectors (run_detectors): {total:.2f} s, "
        f"{findings.height} findings   target < 10 s: {'OK' if total < 10 else 'MISSED'}"
    )
    print("\nper detector (s):")
    for name, d in available_detectors().items():
        secs, out = _timed(lambda d=d: d(df), repeat)
        print(f"  {name:24s} {secs:6.2f}  {out.height:5d} findings")

    pdf = df.to_pandas()
    print("\nwindowed-count detectors, Polars vs straightforward pandas (same frame, best of 5):")
    print(f"  {'detector':24s} {'polars s':>9s} {'pandas s':>9s} {'ratio':>7s}  same findings")
    pl_sum = pd_sum = 0.0
    for name, (polars_fn, pandas_fn) in WINDOWED.items():
        ps, pf = _timed(lambda f=polars_fn: f(df), max(repeat, 5))
        qs, qf = _timed(lambda f=pandas_fn: f(pdf), max(repeat, 5))
        same = {frozenset(x) for x in pf["event_ids"].to_list()} == set(qf)
        pl_sum, pd_sum = pl_sum + ps, pd_sum + qs
        print(f"  {name:24s} {ps:9.3f} {qs:9.3f} {qs / ps:6.1f}x  {same}")
    ratio = pd_sum / pl_sum
    print(
        f"  {'total':24s} {pl_sum:9.3f} {pd_sum:9.3f} {ratio:6.1f}x   target >= 5x: "
        f"{'OK' if ratio >= 5 else 'MISSED'}"
    )
    if quality:
        table = quality_table(findings, scenario.incidents, available_detectors(), top_k=10)
        with pl.Config(tbl_rows=40, tbl_width_chars=140, tbl_hide_dataframe_shape=True):
            print("\nquality on this frame (labelled incidents):")
            print(table)
    print(f"\npeak RSS of this process: {_peak_rss_gib():.2f} GiB")
    return total < 10 and ratio >= 5


def run_ten_million(events: int) -> bool:
    chunk = 1_000_000
    with tempfile.TemporaryDirectory(prefix="auditkit-bench-") as tmp:
        t = time.perf_counter()
        written, part = 0, 0
        while written < events:
            n = min(chunk, events - written)
            first = part * max(3, round(chunk / EVENTS_PER_TENANT))
            frame = build(n, seed=100 + part, first_tenant=first)
            frame.write_parquet(Path(tmp) / f"part-{part:03d}.parquet")
            written, part = written + frame.height, part + 1
            del frame
            gc.collect()
        print(
            f"\ngenerated {written:,} events in {part} Parquet files in "
            f"{time.perf_counter() - t:.0f} s (not timed)"
        )
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(Path(tmp) / "*.parquet")],
            capture_output=True,
            text=True,
            check=True,
        )
        report = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        f"all detectors over {report['events']:,} events (LazyFrame over Parquet): "
        f"{report['seconds']:.1f} s, {report['findings']} findings, peak memory "
        f"{report['peak_gib']:.2f} GiB   target < 4 GiB: "
        f"{'OK' if report['peak_gib'] < 4 else 'MISSED'}"
    )
    return bool(report["peak_gib"] < 4)


def make_store(events: int, path: str) -> None:
    """A store of ``events`` sample events (12 tenants) made by the CLI, as a user would."""
    cli = str(Path(sys.executable).with_name("auditkit"))
    with tempfile.TemporaryDirectory(prefix="auditkit-bench-", dir=Path(path).parent) as tmp:
        sample = Path(tmp) / "sample.ndjson"
        t = time.perf_counter()
        subprocess.run(
            [
                cli,
                "sample",
                "-o",
                str(sample),
                "--events",
                str(events),
                "--tenants",
                "12",
                "--no-progress",
            ],
            check=True,
        )
        subprocess.run([cli, "init", path], check=True, capture_output=True)
        subprocess.run([cli, "ingest", path, str(sample), "--no-progress"], check=True)
        print(f"made {path} ({events:,} events) in {time.perf_counter() - t:.0f} s")


def _measured(cmd: list[str]) -> tuple[float, float, bytes]:
    """Run ``cmd``; its wall seconds, peak RSS in GiB (of that process alone) and stdout."""
    t = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)
        secs = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)}: exit {proc.returncode}")
        out.seek(0)
        return secs, usage.ru_maxrss * 1024 / GIB, out.read()


def run_stores(paths: list[str]) -> bool:
    """``auditkit detect STORE --format json`` over each store: verification through
    ``Store.scan`` and every detector streaming over the Parquet chunks."""
    cli = str(Path(sys.executable).with_name("auditkit"))
    print("\n`auditkit detect STORE --format json` (verify + all detectors), one process each:")
    print(f"  {'store':28s} {'events':>12s} {'seconds':>8s} {'peak RSS':>9s} {'findings':>9s}")
    rows = []
    for path in paths:
        secs, peak, out = _measured([cli, "detect", path, "--format", "json", "--no-progress"])
        doc = json.loads(out)
        rows.append((doc["events"], secs, peak))
        print(
            f"  {Path(path).name:28s} {doc['events']:12,d} {secs:8.1f} {peak:8.2f}G "
            f"{doc['count']:9d}"
        )
    ok = True
    if rows:
        big = max(rows)
        small = min(rows)
        ok = big[2] < 4
        print(
            f"  peak RSS at {big[0]:,} events: {big[2]:.2f} GiB   target < 4 GiB: "
            f"{'OK' if ok else 'MISSED'}"
        )
        if big[0] >= 10_000_000:
            fast = big[1] < 60
            ok = ok and fast
            print(
                f"  {big[0]:,} events in {big[1]:.0f} s   target < 60 s: "
                f"{'OK' if fast else 'MISSED'}"
            )
        if big is not small:
            print(
                f"  peak RSS ratio {big[2] / small[2]:.2f} for {big[0] / small[0]:.0f}x the "
                "events (flat is about 1)"
            )
    return ok


def child(pattern: str) -> None:
    """Run in a fresh process so that its peak RSS is the detectors' alone."""
    lf = pl.scan_parquet(pattern)
    n = lf.select(pl.len()).collect().item()
    t = time.perf_counter()
    findings = run_detectors(lf)
    secs = time.perf_counter() - t
    print(
        json.dumps(
            {"events": n, "seconds": secs, "findings": findings.height, "peak_gib": _peak_rss_gib()}
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs")
    parser.add_argument("--ten-million", action="store_true", help="also run 10M events")
    parser.add_argument("--big-events", type=int, default=10_000_000, help=argparse.SUPPRESS)
    parser.add_argument("--quality", action="store_true", help="print precision/recall")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--skip-million", action="store_true", help="skip the 1M frame run")
    parser.add_argument("--stores", nargs="+", default=[], metavar="STORE")
    parser.add_argument("--make-store", nargs=2, metavar=("EVENTS", "STORE"))
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    if args.make_store:
        make_store(int(args.make_store[0]), args.make_store[1])
    ok = True if args.skip_million else run_million(args.events, args.repeat, args.quality)
    if args.stores:
        ok = run_stores(args.stores) and ok
    if args.ten_million:
        ok = run_ten_million(args.big_events) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

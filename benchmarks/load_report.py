"""Verdicts and printing of the load test: targets (scaled by the box's calibration),
the result table, CPU per request, floor ratios, the /pay CPU arithmetic, JSON."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from benchmarks._stats import hardware
from benchmarks.load_cpu import REFERENCE_CALIBRATION_S, scaled


@dataclass(frozen=True)
class Target:
    """An endpoint's design rate and its latency bound at one quantile."""

    rate: float
    quantile: int
    ms: float


DESIGN = {"/fraud": Target(1000, 99, 25.0), "/route": Target(1000, 99, 5.0),
          "/pay": Target(250, 99, 250.0), "/chat": Target(100, 95, 1000.0)}
WS_TARGET = Target(100, 99, 50.0)  # rate: payments a second while the sockets are held
API_CPU_MS_PER_PAYMENT = 3.0


def judge(row: dict, target: Target, calibration_s: float) -> None:
    """Add the target, the target scaled to this box and the verdict to `row`: the
    quantile within the scaled bound and no error."""
    bound = scaled(target.ms, calibration_s)
    got = row[f"p{target.quantile}_ms"]
    row["target"] = f"p{target.quantile}<={target.ms:g}ms (here {bound:.1f})"
    row["meets_target"] = bool(not math.isnan(got) and got <= bound
                               and not row["errors"])


def _cell(v: object, width: int) -> str:
    if isinstance(v, float):
        return f"{v:>{width}.1f}" if abs(v) >= 10 or v == 0 else f"{v:>{width}.2f}"
    return f"{str(v):>{width}}"


COLUMNS = (("name", 34), ("offered_per_s", 8), ("sent", 7), ("ok", 7), ("p50_ms", 8),
           ("p95_ms", 8), ("p99_ms", 8), ("max_ms", 8), ("achieved_per_s", 8),
           ("errors", 6), ("target", 28), ("meets_target", 5))
HEADS = ("phase", "offered", "sent", "ok", "p50 ms", "p95 ms", "p99 ms", "max ms",
         "per s", "errors", "target", "met")


def print_rows(title: str, rows: list[dict]) -> None:
    """The result table, then each row's error kinds and CPU ms per request."""
    print(f"\n{title}  [{hardware()}]")
    print(" ".join(f"{h:>{w}}" if i else f"{h:<{w}}"
                   for i, (h, (_, w)) in enumerate(zip(HEADS, COLUMNS))))
    for r in rows:
        print(" ".join(f"{str(r.get(c, '')):<{w}}" if c == "name"
                       else _cell(r.get(c, "-"), w) for c, w in COLUMNS))
    for r in rows:
        if r.get("error_kinds"):
            print(f"  {r['name']}: errors by kind {r['error_kinds']}")
    for r in rows:
        cpu = r.get("cpu_ms_per_request")
        if cpu:
            shares = ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())
            print(f"  CPU ms per answered request, {r['name']}: {shares} "
                  f"(sum {sum(cpu.values()):.2f})")


def print_ws(row: dict) -> None:
    print(f"\nWebSocket: {row['connections_open']:,} of {row['connections_wanted']:,} "
          f"connections opened in {row['connect_s']} s "
          f"(failures: {row['connect_failures'] or 'none'}); dropped while held: "
          f"{row['dropped']}; events {row['events']:,}, deliveries missing "
          f"{row['deliveries_missing']:,}; payments answered {row['payments_ok']:,} "
          f"(errors {row['payment_errors'] or 'none'}), of them no socket heard of "
          f"{row['payments_without_event']} (statuses {row['unheard_statuses']}); /pay "
          f"meanwhile p50 {row['pay']['p50_ms']:.0f} ms, p99 "
          f"{row['pay']['p99_ms']:.0f} ms, {row['pay']['achieved_per_s']:.1f}/s")


def print_ratios(ratios: dict, floor: dict | None) -> None:
    if not ratios:
        print("\nFloor ratios: not computed (the floor phase or the closed loop "
              "was not run)")
        return
    print(f"\nAPI capacity (closed loop) as % of the bare BentoML XGBoost service's "
          f"(model {floor.get('model_version', floor.get('model'))}):")
    for ep, r in ratios.items():
        print(f"  {ep:<7} {r['api_per_s']:>8.1f}/s of {r['floor_per_s']:.1f}/s = "
              f"{r['percent']:5.1f} %  (target >= {r['target_percent']:g} %: "
              f"{'met' if r['meets_target'] else 'MISSED'})")


def print_arithmetic(source: str, per_payment: dict, fit: dict) -> None:
    """Why /pay 500/s does not (or does) fit on this box's cores."""
    parts = " + ".join(f"{k} {v:.2f}" for k, v in per_payment.items())
    verdict = "fits" if fit["fits"] else "does NOT fit"
    print(f"\nCPU per payment ({source}): {parts} = {fit['ms_per_payment']:.2f} ms.\n"
          f"  x {fit['rate']:g} payments/s = {fit['need_cpu_ms_per_s']:,.0f} CPU-ms/s "
          f"against {fit['have_cpu_ms_per_s']:,.0f} CPU-ms/s on {os.cpu_count()} "
          f"cores: {verdict}; at this cost the box carries at most "
          f"{fit['max_rate']:,.0f} payments/s with nothing else running.")


def print_calibration(cal: dict) -> None:
    factor = cal["used_s"] / REFERENCE_CALIBRATION_S
    print(f"\nCPU calibration (10 M pure-Python additions): start "
          f"{cal['start_s']:.2f} s, "
          f"end {cal.get('end_s', float('nan')):.2f} s; reference box "
          f"{REFERENCE_CALIBRATION_S} s; targets scaled x{factor:.2f}: " + ", ".join(
              f"{ep} p{t.quantile} {t.ms:g} -> {scaled(t.ms, cal['used_s']):.1f} ms"
              for ep, t in DESIGN.items())
          + f", ws p99 50 -> {scaled(50.0, cal['used_s']):.1f} ms")


def _plain(v: object) -> object:
    """JSON-safe: NaN and infinities become null (strict JSON has neither)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [_plain(x) for x in v]
    return v


def write_json(path: Path, summary: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_plain(summary), indent=1, default=str,
                               allow_nan=False))
    print(f"\nJSON summary: {path}")

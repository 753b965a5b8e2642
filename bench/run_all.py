"""Run every benchmark (W1 to W5), show progress, save the raw figures and print a summary.

    make bench            # or: .venv/bin/python -m bench.run_all [--quick]

Raw results go to bench/runs/results-<timestamp>.json; bench/RESULTS.md records the figures we keep.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from typing import Any

from bench import w1_lifecycle, w2_growth, w3_task_lists, w4_scale_out, w5_web
from bench.common import RUNS, calibration_ms, machine, postgres_available, progress


def summarize(results: dict[str, Any]) -> str:
    lines = ["| workload | figure | value |", "|---|---|---|"]
    for backend, figures in results["W1"].items():
        for size, data in figures.items():
            if size.startswith("N="):
                runs = ", ".join(str(value) for value in data["instances_per_s_runs"])
                lines.append(f"| W1 {backend} {size} | instances/s, median of runs ({runs}) | "
                             f"{data['instances_per_s']:.1f} |")
                lines.append(f"| W1 {backend} {size} | complete median / p95 (ms) | "
                             f"{data['requests']['complete']['median_ms']:.2f} / "
                             f"{data['requests']['complete']['p95_ms']:.2f} |")
                lines.append(f"| W1 {backend} {size} | DB growth per instance (bytes) | "
                             f"{data['db_growth_bytes_per_instance']} |")
        lines.append(f"| W1 {backend} | server peak RSS (MB) | {figures['peak_rss_mb']:.0f} |")
    w2 = results["W2"]
    for checkpoint, data in w2["engine"].items():
        lines.append(f"| W2 engine {checkpoint} | complete median (ms) | {data['median_ms']:.2f} |")
    for checkpoint, data in w2["api"].items():
        lines.append(f"| W2 API {checkpoint} | complete median (ms) | {data['median_ms']:.2f} |")
    lines.append(f"| W2 | growth ratio (last / first checkpoint, engine) | {w2['engine_growth_ratio']:.2f} |")
    for backend, figures in results["W3"].items():
        for label, data in figures.items():
            if isinstance(data, dict):
                lines.append(f"| W3 {backend} {label} | p95 (ms) | {data['p95_ms']:.2f} |")
        lines.append(f"| W3 {backend} | server peak RSS (MB) | {figures['peak_rss_mb']:.0f} |")
    w4 = results["W4"]
    if "skipped" not in w4:
        for label in ("1 worker(s)", "4 worker(s)"):
            lines.append(f"| W4 {label} | instances/s | {w4[label]['instances_per_s']:.1f} |")
            lines.append(f"| W4 {label} | check | {'passed' if w4[label]['check']['ok'] else 'FAILED'} |")
        lines.append(f"| W4 | speed-up 4 vs 1 worker | {w4['speed_up_4_vs_1']:.2f}x |")
    for backend, figures in results.get("W5", {}).items():
        for label, data in figures.items():
            if isinstance(data, dict) and "p95_ms" in data:
                lines.append(f"| W5 {backend} {label} | server p95 (ms) | {data['p95_ms']:.2f} |")
        for page, weight in figures["page_weight"].items():
            lines.append(f"| W5 {backend} {page} page | JS+CSS gzip (KB) | {weight['js_css_gzip_bytes'] / 1024:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args(argv)
    pg = postgres_available()
    if not pg:
        progress("PostgreSQL is not reachable: its variants are skipped")
    started = time.perf_counter()
    results: dict[str, Any] = {"machine": machine(), "calibration_ms_before": calibration_ms()}
    progress("W1: lifecycle throughput")
    results["W1"] = w1_lifecycle.main(["--sizes", "20" if args.quick else "50,200"] + (["--postgres"] if pg else []))
    progress("W2: growth")
    results["W2"] = w2_growth.main(["--engine-checkpoints", "10,100" if args.quick else "10,100,1000,5000",
                                    "--api-checkpoints", "10,100" if args.quick else "10,100,1000"])
    progress("W3: task lists at scale")
    results["W3"] = w3_task_lists.main(["--tasks", "10000" if args.quick else "100000"])
    progress("W4: scale-out on PostgreSQL")
    results["W4"] = w4_scale_out.main(["--per-client", "3" if args.quick else "25"])
    progress("W5: the web app (My work, the record page, page weight)")
    results["W5"] = w5_web.main(["--tasks", "10000" if args.quick else "100000"])
    results["calibration_ms_after"] = calibration_ms()
    RUNS.mkdir(parents=True, exist_ok=True)
    path = RUNS / f"results-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2))
    progress(f"done in {time.perf_counter() - started:.0f} s; raw figures in {path}")
    print(json.dumps(results["machine"], indent=2))
    print(f"calibration: {results['calibration_ms_before']} ms before, {results['calibration_ms_after']} ms after")
    print(summarize(results))


if __name__ == "__main__":
    main()

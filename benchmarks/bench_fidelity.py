"""The simulator against the live system: `imgproc fidelity` on the seed's two traces and
two generated ones, for `slo` and `target-tracking`, at `--speed 10`, and on a shorter
trace at `--speed 1`; prints the Markdown table of docs/fidelity.md.

Each row is one `imgproc fidelity TRACE --policy P --speed X --boot-delay 30 --slo 2
--profile PROFILE --json`, run as a user runs it (the live half on the local provider and
the real RabbitMQ and ZooKeeper, so `scripts/ensure-services.sh` first); the raw reports
are kept as JSON lines in `--out`. Keep the machine otherwise idle: the live half's
workers are Python processes on its cores.

Run: ``.venv/bin/python benchmarks/bench_fidelity.py [--profile local] [--speeds 10,1]
[--policies slo,target-tracking] [--out /tmp/fidelity.jsonl]``  (about 40 minutes)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from live_run import print_date_and_machine

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
GOAL = ("response_p95_s", "vm_seconds", "machines_peak")
# (name, generate arguments); 20 minutes of trace each, like the seed's
GENERATED = {
    "flash-crowd": ["--shape", "flash-crowd", "--rate", "3", "--peak-factor", "6",
                    "--service-dist", "exponential", "--service-mean", "0.4", "--seed", "7"],
    "on-off": ["--shape", "on-off", "--rate", "6", "--on", "180", "--off", "120",
               "--service-dist", "lognormal", "--service-mean", "0.3", "--sigma", "0.5",
               "--seed", "3"],
}
SHORT = ["--shape", "burst", "--duration", "300", "--rate", "3", "--burst-start", "90",
         "--burst-length", "60", "--burst-factor", "4", "--seed", "5"]


def generate(folder: Path) -> dict[str, list[Path]]:
    """The traces by speed: the long ones at 10, the short one at 1."""
    long = [ROOT / "workloads" / "burst.jsonl", ROOT / "workloads" / "normal.jsonl"]
    for name, args in GENERATED.items():
        out = folder / f"{name}.jsonl"
        subprocess.run([str(BIN / "imgproc"), "workload", "generate", *args, "--duration",
                        "1200", "--name", name, "--out", str(out)], check=True)
        long.append(out)
    short = folder / "burst-300s.jsonl"
    subprocess.run([str(BIN / "imgproc"), "workload", "generate", *SHORT, "--name",
                    "burst-300s", "--out", str(short)], check=True)
    return {"10": long, "1": [short]}


def fidelity(trace: Path, policy: str, speed: str, profile: str) -> dict:
    done = subprocess.run(
        [str(BIN / "imgproc"), "fidelity", str(trace), "--policy", policy, "--speed", speed,
         "--boot-delay", "30", "--slo", "2", "--profile", profile, "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=True)
    return json.loads(done.stdout)


def row(report: dict) -> str:
    sim, live, diff = report["simulated"], report["live"], report["differences"]
    cells = [report["trace"], report["policy"], f"{report['speed']:g}"]
    for metric in GOAL:
        rel = diff[metric]["relative"]
        mark = "" if diff[metric]["within"] else " ✗"
        cells.append(f"{_fmt(sim[metric])} / {_fmt(live[metric])} "
                     f"({'-' if rel is None else f'{rel:+.0%}'}){mark}")
    cells.append(f"{sim['slo_met_share']:.0%} / {live['slo_met_share']:.0%}")
    return "| " + " | ".join(cells) + " |"


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}".rstrip("0").rstrip(".")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="local")
    parser.add_argument("--speeds", default="10,1")
    parser.add_argument("--policies", default="slo,target-tracking")
    parser.add_argument("--out", type=Path, default=Path("/tmp/fidelity.jsonl"))
    args = parser.parse_args()
    print_date_and_machine(f", profile {args.profile}")
    print("\n| trace | policy | speed | p95 s: sim / live | VM-s: sim / live | "
          "peak: sim / live | in objective: sim / live |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder, args.out.open("w") as raw:
        traces = generate(Path(folder))
        for speed in args.speeds.split(","):
            for trace in traces[speed]:
                for policy in args.policies.split(","):
                    report = fidelity(trace, policy, speed, args.profile)
                    raw.write(json.dumps(report) + "\n")
                    raw.flush()
                    print(row(report), flush=True)


if __name__ == "__main__":
    main()

"""Every benchmark, run for a second or two on tiny data: a benchmark that breaks fails CI.

    .venv/bin/python -m bench.smoke [--peer-python .venv-bench/bin/python]

Each benchmark runs as its own process with the arguments below (both databases, every mode,
worker counts 1 and 2) and writes its report into a temporary directory, never over the
committed results in bench/results/. The figures mean nothing at this size; that the runs
finish, and finish cleanly, is the point. `make bench-smoke` runs this (with the peer
benchmark's own environment), and `.ci/run` runs `make bench-smoke`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (name, module, arguments); "{out}" is the report file in the temporary directory.
RUNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "transfers and as-of",
        "bench.transfers",
        (
            "--seconds", "0.3", "--warmup-seconds", "0.1", "--rounds", "1", "--threads", "2",
            "--accounts", "50", "--asof-postings", "2000", "--asof-hot-postings", "500",
            "--asof-samples", "3", "--asof-sum-samples", "1", "--output", "{out}",
        ),
    ),
    (
        "chain cost",
        "bench.transfers",
        (
            "--chain-cost", "--seal-every", "0.1", "--seconds", "0.3", "--warmup-seconds", "0.1",
            "--rounds", "1", "--threads", "2", "--accounts", "50", "--output", "{out}",
        ),
    ),
    (
        "HTTP load",
        "bench.load",
        (
            "--workers", "1,2", "--holders", "20", "--seconds", "0.5",
            "--warmup-seconds", "0.2", "--concurrency", "4", "--output", "{out}",
            "--scenarios", "transfers,mix,trades,bare", "--think-ms", "1",
        ),
    ),
    (
        "HTTP load, the sweeper in its own process",
        "bench.load",
        (
            "--workers", "2", "--holders", "20", "--seconds", "0.5", "--warmup-seconds", "0.2",
            "--concurrency", "4", "--output", "{out}", "--scenarios", "mix", "--think-ms", "1",
            "--sweeper", "process", "--sweep-seconds", "0.2",
        ),
    ),
    (
        "HTTP load, locked time",
        "bench.load",
        (
            "--database", "postgresql", "--workers", "1,2", "--holders", "20", "--seconds", "0.5",
            "--warmup-seconds", "0.2", "--concurrency", "4", "--output", "{out}",
            "--scenarios", "trades,transfers", "--think-ms", "1", "--timeline",
        ),
    ),
    ("API CPU per request", "bench.api_cpu", ("--requests", "20", "--rounds", "1")),
    ("CEMS import", "bench.cems_import", ("--outlets", "1")),
    ("console pages", "bench.console", ("--rounds", "1", "--output", "{out}")),
    ("statements per step", "bench.statements", ("--rounds", "1", "--output", "{out}")),
    ("locked time, alone", "bench.statements", ("--rounds", "1", "--timeline")),
)  # fmt: skip
PEER = (
    "beside django-hordak",
    "bench.peer_hordak",
    (
        "--quick", "--accounts", "50", "--seconds", "0.3", "--rounds", "1",
        "--sizes", "1000", "--output", "{out}",
    ),
)  # fmt: skip


def run(python: str, name: str, module: str, arguments: tuple[str, ...], out: Path) -> float:
    """Run one benchmark; its seconds. Its output is shown only if it fails."""
    command = [python, "-m", module, *(a.replace("{out}", str(out)) for a in arguments)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        print(done.stdout[-5000:], done.stderr[-5000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"bench smoke: {name} ({module}) failed with {done.returncode}")
    print(f"  {name:22} ok in {seconds:5.1f} s", flush=True)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.smoke", description=__doc__)
    parser.add_argument("--peer-python", help="the peer benchmark's interpreter (.venv-bench)")
    arguments = parser.parse_args(argv)
    runs = [(sys.executable, *spec) for spec in RUNS]
    if arguments.peer_python:
        runs.append((arguments.peer_python, *PEER))
    print("bench smoke: every benchmark on tiny data")
    total = 0.0
    with tempfile.TemporaryDirectory(prefix="bench-smoke-") as directory:
        for index, (python, name, module, args) in enumerate(runs):
            total += run(python, name, module, args, Path(directory) / f"{index}.txt")
    print(f"bench smoke: {len(runs)} benchmarks ok in {total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

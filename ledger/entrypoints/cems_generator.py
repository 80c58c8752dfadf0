"""`emissions-ledger generate-cems`: synthetic CEMS data for the demo outlets, a year of hourly
records, deterministic per seed.

Each outlet of `demo_data/outlets.csv` runs at its design dry flow times a load that follows the
day (lower at night) and the week (lower at weekends). Concentrations wander around the
outlet's typical monthly mean (on the standard's basis; the measured value is derived from the
O2 so that the corrected mean comes out right), with noise. What real CEMS data also has:

- stops: the hours a plant does not run (8760 − its operating hours) as a few outages, flag F;
- a weekly calibration hour (C), rare faults (D) and communication failures (B), and hours
  with too few valid minutes (flag N, < 45 minutes): all invalid for means and mass;
- rare upsets: about one hour in 4,000 per pollutant reads 1.2–1.6 × the hourly standard, an
  hourly exceedance that costs the enterprise that month's Article 13 reduction.

Every random draw comes from a generator seeded by (seed, enterprise, outlet, pollutant), so the
same seed always gives the same file, byte for byte.

Floats appear only here, in the simulation of sensor readings (noise, load curves): each value is
written out as text with fixed decimals, and the import reads that text as `Decimal` like any
real CEMS file. No amount, mass or tax is ever computed from these floats.
"""

# ruff: noqa: S311 - synthetic data, not secrets: a seeded PRNG is the point

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ledger.domain.cems import FIELDS
from ledger.domain.monitoring import CHINA_STANDARD_TIME
from ledger.entrypoints.demo import REFERENCE_O2, rows
from ledger.settings import Settings

PM, SO2, NOX, CO = "PM", "SO2", "NOx", "CO"
POLLUTANTS_DEFAULT = (SO2, NOX, PM)
CO_TYPICAL_MG_NM3 = 60.0  # no CO standard in the demo: a typical level, never an exceedance
UPSET_PER_HOUR = 1 / 4000
FAULT_PER_HOUR = 0.003
COMMUNICATION_FAILURE_PER_HOUR = 0.001
FEW_MINUTES_PER_HOUR = 0.002
OUTAGES = 3  # the year's stopped hours come as this many outages
O2_WITHOUT_REFERENCE = 12.0  # measured O2 around which outlets without a reference run


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `generate-cems` on the CLI's parser."""
    generate_cems = commands.add_parser(
        "generate-cems", help="write a year of synthetic CEMS data for the demo outlets"
    )
    generate_cems.add_argument("--year", type=int, required=True)
    generate_cems.add_argument("--out", type=Path, required=True)
    generate_cems.add_argument("--seed", type=int, default=2025)
    generate_cems.add_argument(
        "--pollutants", default=",".join(POLLUTANTS_DEFAULT), help="e.g. SO2,NOx,PM"
    )
    generate_cems.set_defaults(run=run_generate)


def run_generate(_: Settings, arguments: argparse.Namespace) -> int:
    """Write the demo outlets' year of hourly records to `--out`."""
    lines = 0
    with arguments.out.open("w", encoding="utf-8", newline="") as target:
        for line in generate(
            demo_outlets(),
            arguments.year,
            seed=arguments.seed,
            pollutants=arguments.pollutants.split(","),
        ):
            target.write(line)
            lines += 1
    print(f"wrote {lines - 1} hourly records to {arguments.out}")
    return 0


@dataclass(frozen=True, slots=True)
class OutletSpec:
    """What the generator needs of an outlet."""

    enterprise: str
    outlet: str
    dry_flow_nm3_h: float
    operating_hours: int
    typical_mg_nm3: dict[str, float]  # on the standard's basis
    standard_mg_nm3: dict[str, float]
    reference_o2: float | None


def demo_outlets() -> list[OutletSpec]:
    """The demo's outlets (ledger/demo_data/outlets.csv), with their industries' reference O2."""
    industries = {row["enterprise_id"]: row["industry"] for row in rows("enterprises.csv")}
    specs = []
    for row in rows("outlets.csv"):
        industry = industries[row["enterprise_id"]]
        o2 = REFERENCE_O2.get(industry)
        if industry == "steel" and not row["outlet_id"].startswith("SINTER"):
            o2 = None  # as the demo registers them (ledger.entrypoints.demo)
        specs.append(
            OutletSpec(
                enterprise=row["enterprise_id"],
                outlet=row["outlet_id"],
                dry_flow_nm3_h=float(row["dry_flow_nm3_per_h"]),
                operating_hours=int(row["operating_hours_per_year"]),
                typical_mg_nm3={p: float(row[f"{p.lower()}_mg_m3"]) for p in (SO2, NOX, PM)},
                standard_mg_nm3={
                    p: float(row[f"standard_{p.lower()}_mg_m3"]) for p in (SO2, NOX, PM)
                },
                reference_o2=None if o2 is None else float(o2),
            )
        )
    return specs


def generate(
    outlets: Sequence[OutletSpec],
    year: int,
    *,
    seed: int = 2025,
    pollutants: Sequence[str] = POLLUTANTS_DEFAULT,
) -> Iterator[str]:
    """CSV lines (with newline): the header, then every hour of `year` per outlet and pollutant."""
    yield ",".join(FIELDS) + "\n"
    start = datetime(year, 1, 1, tzinfo=CHINA_STANDARD_TIME)
    hours = int((start.replace(year=year + 1) - start) / timedelta(hours=1))
    stamps = [(start + timedelta(hours=h)).isoformat(timespec="minutes") for h in range(hours)]
    loads = [_load(h, start.weekday()) for h in range(hours)]
    for spec in outlets:
        running = _running_hours(spec, hours, seed)
        for pollutant in pollutants:
            rng = random.Random(f"{seed}:{spec.enterprise}:{spec.outlet}:{pollutant}")
            prefix = f"{spec.enterprise},{spec.outlet},{pollutant},"
            for h in range(hours):
                load = loads[h] if running[h] else None
                yield prefix + stamps[h] + "," + _hour(spec, pollutant, h, load, rng) + "\n"


def _running_hours(spec: OutletSpec, hours: int, seed: int) -> list[bool]:
    """False in the outlet's outages (the same for all its pollutants)."""
    rng = random.Random(f"{seed}:{spec.enterprise}:{spec.outlet}:outages")
    running = [True] * hours
    stopped = max(hours - spec.operating_hours, 0)
    for index in range(OUTAGES if stopped else 0):
        length = stopped // OUTAGES + (1 if index < stopped % OUTAGES else 0)
        begin = rng.randrange(0, hours - length)
        for h in range(begin, begin + length):
            running[h] = False
    return running


def _hour(spec: OutletSpec, pollutant: str, h: int, load: float | None, rng: random.Random) -> str:
    """concentration, flow, O2, valid minutes, flag of one hour (`load` None: stopped)."""
    if load is None:
        return "0.000,0.0,20.90,0,F"
    ref = spec.reference_o2
    o2 = (ref if ref is not None else O2_WITHOUT_REFERENCE) + rng.gauss(0, 0.6) - 1.5 * (load - 0.9)
    o2 = min(max(o2, 1.0), 20.0)
    typical = spec.typical_mg_nm3.get(pollutant, CO_TYPICAL_MG_NM3)
    on_basis = typical * (0.92 + 0.1 * load) * math.exp(rng.gauss(0, 0.12))
    standard = spec.standard_mg_nm3.get(pollutant)
    if standard is not None and rng.random() < UPSET_PER_HOUR:
        on_basis = standard * rng.uniform(1.2, 1.6)
    measured = on_basis if ref is None else on_basis * (21 - o2) / (21 - ref)
    flow = spec.dry_flow_nm3_h * load * (1 + rng.gauss(0, 0.02))
    minutes, flag = _flag(h, rng)
    return f"{measured:.3f},{max(flow, 0.0):.1f},{o2:.2f},{minutes},{flag}"


def _load(h: int, first_weekday: int) -> float:
    """Relative load: a daily swing (peak mid-afternoon) and lighter weekends."""
    daily = 0.08 * math.sin(2 * math.pi * ((h % 24) - 9) / 24)
    weekend = -0.05 if (first_weekday + h // 24) % 7 in (5, 6) else 0.0
    return 0.9 + daily + weekend


def _flag(h: int, rng: random.Random) -> tuple[int, str]:
    if h % (24 * 7) == 3:  # the weekly calibration, 03:00 on the same weekday
        return 0, "C"
    draw = rng.random()
    if draw < FAULT_PER_HOUR:
        return rng.randrange(0, 45), "D"
    if draw < FAULT_PER_HOUR + COMMUNICATION_FAILURE_PER_HOUR:
        return 0, "B"
    if draw < FAULT_PER_HOUR + COMMUNICATION_FAILURE_PER_HOUR + FEW_MINUTES_PER_HOUR:
        return rng.randrange(30, 45), "N"
    return 60, "N"

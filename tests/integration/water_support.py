"""A water outlet for E1 (WW-1) and a month of online water data for ten pollutants: six
class-1 (top 5 taxed) and four others (top 3 taxed), rules §1.1 and §7.7."""

from __future__ import annotations

from datetime import date

from ledger.domain.registry import Outlet
from ledger.persistence.store import Store
from ledger.services import parties
from tests.integration.monitoring_support import MARCH, regulator, set_permit, stamp

# pollutant: (concentration mg/L, standard mg/L). At 100 m³/h (2,400 m³ a day) for 31 days,
# equivalents: COD 2,976, NH3-N 465, SS 372, total_P 148.8 (the 4th other: untaxed); total_Hg
# 1,488, total_Cd 1,488, Cr6+ 372, total_As 372, total_Pb 297.6, total_Cr 186 (the 6th
# class-1: untaxed).
WATER = {
    "COD": ("40", "50"),
    "NH3-N": ("5", "8"),
    "SS": ("20", "70"),
    "total_P": ("0.5", "1"),
    "total_Hg": ("0.01", "0.05"),
    "total_Cd": ("0.1", "0.5"),
    "total_Cr": ("0.1", "0.5"),
    "Cr6+": ("0.1", "0.5"),
    "total_As": ("0.1", "0.5"),
    "total_Pb": ("0.1", "0.5"),
}
UNTAXED = {"total_P", "total_Cr"}


def add_water_outlet(store: Store) -> None:
    standards = {pollutant: standard for pollutant, (_, standard) in WATER.items()}
    parties.add_outlet(store, regulator(store), Outlet("E1", "WW-1"))
    set_permit(store, "E1", "WW-1", standards)


def water_line(hour_start: str, pollutant: str, c: str, flag: str = "N", o2: str = "0") -> str:
    return f"E1,WW-1,{pollutant},{hour_start},{c},100,{o2},60,{flag}\n"


def water_month(month: date = MARCH) -> list[str]:
    """Every hour of March for the ten pollutants at their concentration, 100 m³/h."""
    return [
        water_line(stamp(day, hour, month), pollutant, c)
        for pollutant, (c, _) in WATER.items()
        for day in range(1, 32)
        for hour in range(24)
    ]

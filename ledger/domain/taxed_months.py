"""The months of one outlet's pollutant as the tax sees them: valid hours tallied
(`cems.MonthlyTally`), non-valid hours substituted and every reading judged
(`substitution`, rules §7.1–7.2), air by hour and water by day (`water`, §7.7).

One pure function over stored hours, so the import and `demo-tax` compute months alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from ledger.domain.cems import MonthlyTally, StoredHour, is_water, local_month, month_hours
from ledger.domain.monitoring import EmissionStandard, MonthlyAggregate
from ledger.domain.substitution import (
    DEFAULT_SUBSTITUTION,
    Substitute,
    SubstitutionPolicy,
    complete_month,
    substitutes,
)
from ledger.domain.water import complete_water_month


def months_as_taxed(
    outlet: str,
    pollutant: str,
    months: Sequence[date],
    standard: EmissionStandard | None,
    *,
    window: Sequence[StoredHour],
    policy: SubstitutionPolicy = DEFAULT_SUBSTITUTION,
) -> list[MonthlyAggregate]:
    """Each of `months` that has stored hours, with substitution, every reading judged and the
    conservative mean; an air pollutant by hour, a water pollutant by day. `window` holds the
    outlet and pollutant's stored hours from the year before the first month to 25 hours after
    the last month's quarter."""
    if not months:
        return []
    first, end = month_hours(min(months))[0], month_hours(max(months))[1]
    by_month: dict[date, list[Substitute]] = {}
    for sub in substitutes(window, first, end, policy):
        by_month.setdefault(local_month(sub.hour), []).append(sub)
    found = []
    for month in sorted(months):
        start, stop = month_hours(month)
        hours = [h for h in window if start <= h.hour < stop]
        if not hours:
            continue
        tally = MonthlyTally(outlet, pollutant, month, standard)
        for hour in hours:
            tally.add(hour)
        complete = complete_water_month if is_water(pollutant) else complete_month
        found.append(complete(tally.aggregate(), hours, by_month.get(month, [])))
    return found

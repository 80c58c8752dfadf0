"""Named bounds of the ledger (qualifier last, TigerBeetle style), each enforced with a code."""

from datetime import UTC, date, datetime
from typing import Final

UNITS_MAX: Final = 2**63 - 1  # largest BIGINT: no amount or balance counter may exceed it
SCALE_MAX: Final = 9  # decimal places an instrument may have
POSTINGS_PER_ENTRY_MAX: Final = 64
ENTRIES_PER_BATCH_MAX: Final = 100
ITEMS_PER_BULK_MAX: Final = 1000
PAGE_SIZE_DEFAULT: Final = 100
PAGE_SIZE_MAX: Final = 1000
MEMO_LENGTH_MAX: Final = 500
CODE_LENGTH_MAX: Final = 64
NAME_LENGTH_MAX: Final = 200
REFERENCES_PER_ENTRY_MAX: Final = 16
METADATA_BYTES_MAX: Final = 4096
REQUEST_BYTES_MAX: Final = 1_048_576
# Business dates and instants the ledger accepts (API, command line, imported files); outside
# them a date is refused with `date_out_of_range`. Instants: any moment of those days in UTC.
DATE_MIN: Final = date(2000, 1, 1)
DATE_MAX: Final = date(2100, 12, 31)
INSTANT_MIN: Final = datetime(2000, 1, 1, tzinfo=UTC)
INSTANT_END: Final = datetime(2101, 1, 1, tzinfo=UTC)  # the first instant refused
YEAR_MIN: Final = DATE_MIN.year  # compliance and tax years
YEAR_MAX: Final = DATE_MAX.year
BIGINT_MAX: Final = 2**63 - 1  # largest BIGINT column value (ids, seqs, cursors)
HOURS_PER_MONTH_MAX: Final = 31 * 24  # a month's exceedances cannot outnumber its hours
MASS_KG_MAX: Final = 10**12  # kg: a month's emission of one pollutant at one outlet (its tax fits)

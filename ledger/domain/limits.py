"""Named bounds of the ledger (qualifier last, TigerBeetle style), each enforced with a code."""

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

"""Instants in one form: SQLite text that sorts as it parses, repaired where it was not.

SQLite keeps instants as text, `YYYY-MM-DD HH:MM:SS.ffffff` (naive UTC). The journal's fast
write path used to format them with strftime, whose `%Y` does not pad years before 1000: such an
entry was stored `999-01-01 …`, sorted before every other, and failed to parse on every read
(its statements, the sealer and verify). This rewrites every DATETIME and DATE value of every
table that is not in the fixed form (the immutability triggers of a table are set aside for the
repair and put back); PostgreSQL stores typed values and needs nothing.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-14
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DIGITS = "[0-9]"
FIXED = {
    "DATETIME": "-".join((_DIGITS * 4, _DIGITS * 2, _DIGITS * 2))
    + f" {_DIGITS * 2}:{_DIGITS * 2}:{_DIGITS * 2}.{_DIGITS * 6}",
    "DATE": "-".join((_DIGITS * 4, _DIGITS * 2, _DIGITS * 2)),
}
_LOOSE = re.compile(
    r"^\s*(\d{1,4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,6}))?)?"
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    tables = bind.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " AND sql NOT LIKE '%WITHOUT ROWID%'"
    ).scalars()
    for table in list(tables):
        columns = bind.exec_driver_sql(f'PRAGMA table_info("{table}")').all()
        for column in columns:
            kind = str(column[2]).upper()
            if kind in FIXED:
                _repair(bind, table, column[1], kind)


def _repair(bind: sa.Connection, table: str, column: str, kind: str) -> None:
    rows = bind.exec_driver_sql(
        f'SELECT rowid, "{column}" FROM "{table}"'  # noqa: S608 - names from the schema
        f' WHERE "{column}" IS NOT NULL AND "{column}" NOT GLOB ?',
        (FIXED[kind],),
    ).all()
    if not rows:
        return
    triggers = bind.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,)
    ).all()
    for name, _ in triggers:
        bind.exec_driver_sql(f'DROP TRIGGER "{name}"')
    for rowid, text in rows:
        bind.exec_driver_sql(
            f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = ?',  # noqa: S608
            (_fixed(str(text), kind), rowid),
        )
    for _, sql in triggers:
        bind.exec_driver_sql(sql)


def _fixed(text: str, kind: str) -> str:
    match = _LOOSE.match(text)
    if match is None:
        raise ValueError(f"cannot repair the stored instant {text!r}")
    year, month, day, hour, minute, second, fraction = match.groups()
    day_text = f"{int(year):04d}-{int(month):02d}-{int(day):02d}"
    if kind == "DATE":
        return day_text
    return (
        f"{day_text} {int(hour or 0):02d}:{int(minute or 0):02d}:{int(second or 0):02d}"
        f".{(fraction or '').ljust(6, '0')}"
    )


def downgrade() -> None:
    """Nothing to undo: the fixed form is what every version reads."""

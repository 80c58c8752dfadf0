"""What a scope sees, as one SQL predicate every listing applies before it pages.

Filtering in the query (never after it) keeps every page full or final, and tells a scoped
caller nothing about the rows it may not see, not even how many there are.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select, true

from ledger.domain.access import Scope
from ledger.persistence import tables as t


def visible_to(scope: Scope, *party_columns: ColumnElement[str]) -> ColumnElement[bool]:
    """Rows whose party (any of `party_columns`: a seller or a buyer) the scope sees."""
    if scope.unlimited:
        return true()
    if not party_columns:
        return false()
    if scope.party is not None:
        return or_(*(column == scope.party for column in party_columns))
    in_city = select(t.parties.c.code).where(t.parties.c.city == scope.city)
    return or_(*(column.in_(in_city) for column in party_columns))

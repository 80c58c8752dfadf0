"""Who is calling: roles, principals and the scope of what each may see.

Roles (issue "Who may do what"):

- `regulator`: the provincial authority; sees and acts on everything in the registry.
- `city_authority`: a city's authority; sees the parties of its city only.
- `enterprise`: an enterprise's representative; sees its own enterprise only.
- `verifier`: verifies emission reports (never its own submissions); reads everything.
- `finance`: finance staff and auditors; read everything, write only reconciliation and
  period close.
- `administrator`: manages principals and tokens; sees no registry data it does not need.

A principal acts *as* its party (`party`): an enterprise's code, or the authority party of the
province or of a city. Whatever is out of a principal's scope does not exist for it: services
raise the resource's not-found error, so existence never leaks (404, not 403).

The acting principal of the current request travels in a context variable (`acting`), so
that the unit of work can write the audit record of a write in the same transaction as the
write itself: committed ⇔ audited.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    REGULATOR = "regulator"
    CITY_AUTHORITY = "city_authority"
    ENTERPRISE = "enterprise"
    VERIFIER = "verifier"
    FINANCE = "finance"
    ADMINISTRATOR = "administrator"


# Roles whose view of the registry is limited to one party (enterprise) or one city.
SCOPED_ROLES = frozenset({Role.ENTERPRISE, Role.CITY_AUTHORITY})


@dataclass(frozen=True, slots=True)
class Scope:
    """What a principal may see: everything (`party` and `city` both None), one party, or one
    city's parties."""

    party: str | None = None
    city: str | None = None

    @property
    def unlimited(self) -> bool:
        return self.party is None and self.city is None

    def sees(self, party: str | None, party_city: str | None) -> bool:
        """Whether a record belonging to `party` (located in `party_city`) is visible."""
        if self.party is not None:
            return party == self.party
        if self.city is not None:
            return party_city == self.city
        return True


EVERYTHING = Scope()


@dataclass(frozen=True, slots=True)
class Principal:
    """A user or service account, as authenticated for one request."""

    id: str
    name: str
    role: Role
    party: str | None  # the party it acts as; None for verifier, finance and administrator
    city: str | None  # the city of a city authority
    token_id: str | None = None

    @property
    def scope(self) -> Scope:
        if self.role is Role.ENTERPRISE:
            return Scope(party=self.party)
        if self.role is Role.CITY_AUTHORITY:
            return Scope(city=self.city)
        return EVERYTHING


@dataclass(frozen=True, slots=True)
class Acting:
    """The principal behind the current request and what it asked for, for the audit log."""

    principal_id: str
    token_id: str | None
    action: str  # "POST /v1/trades/{trade_id}/accept"
    target: str  # the concrete path, "/v1/trades/T-1/accept"


acting: ContextVar[Acting | None] = ContextVar("acting", default=None)

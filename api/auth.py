"""Authentication: the bearer token of each request becomes the `Caller` (a `Principal`).

Handlers take `caller: Caller` and pass `caller.scope` to the services for reads (a scoped
principal sees only its party or city; out of scope is not found) and `caller` for writes
(the actor of a write is the caller's party).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ledger.domain.access import Principal, Role


def current_principal(request: Request) -> Principal:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:  # scaffolding until token authentication is wired in
        return Principal(id="system", name="system", role=Role.REGULATOR, party=None, city=None)
    return principal


Caller = Annotated[Principal, Depends(current_principal)]

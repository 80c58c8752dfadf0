"""Balances now and as of a past instant, account statements, trial balance, invariant check,
verification of the journal's hash chain."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query, Request

from api import schemas
from api.auth import Acts
from api.convert import balance_out
from api.dependencies import Cursor, Store
from api.routers.registry import AccountCode, InstrumentCodePath
from api.routing import Routes
from ledger.domain.accounts import Side
from ledger.domain.limits import PAGE_SIZE_DEFAULT
from ledger.services import checkpoints, queries

router = Routes(prefix="/v1")

InstrumentQuery = Annotated[str, Query(max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


@router.get("/accounts/{code}/balances", response_model=schemas.BalanceList, tags=["balances"])
def list_balances(code: AccountCode, store: Store, actor: Acts) -> schemas.BalanceList:
    """Current balances of an account in every instrument it has held."""
    balances = queries.get_balances(store, actor, code)
    return schemas.BalanceList(balances=[balance_out(v) for v in balances])


@router.get(
    "/accounts/{code}/balances/{instrument}", response_model=schemas.BalanceOut, tags=["balances"]
)
def get_balance(  # noqa: PLR0917 - path and query parameters
    code: AccountCode,
    instrument: InstrumentCodePath,
    store: Store,
    actor: Acts,
    as_of: Annotated[
        schemas.Instant | None,
        Query(
            description="an instant with a timezone; omit for the current balance (one row read)"
        ),
    ] = None,
    axis: Annotated[
        Literal["recorded", "effective"],
        Query(
            description="recorded: what the ledger had booked by then; effective: what had taken "
            "effect by then, back-dated entries included"
        ),
    ] = "recorded",
) -> schemas.BalanceOut:
    """The balance now, or the posted balance as of an instant on the recorded or effective axis."""
    return balance_out(queries.get_balance(store, actor, code, instrument, as_of, axis))


@router.get("/accounts/{code}/statement", response_model=schemas.StatementOut, tags=["balances"])
def get_statement(  # noqa: PLR0917 - path and query parameters
    code: AccountCode,
    instrument: InstrumentQuery,
    store: Store,
    actor: Acts,
    cursor: Cursor = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> schemas.StatementOut:
    """Posted movements in recorded order with the running balance; follow `next_cursor`."""
    statement = queries.get_statement(store, actor, code, instrument, cursor, limit)
    fmt = statement.instrument.format
    debit_normal = statement.account.normal_side is Side.DEBIT
    lines = [
        schemas.StatementLineOut(
            posting_id=line.posting_id,
            entry_id=line.entry_id,
            entry_type=line.entry_type,
            recorded_at=line.recorded_at,
            effective_at=line.effective_at,
            side=line.side.value,
            amount=fmt(line.units),
            balance=fmt((line.debits_after - line.credits_after) * (1 if debit_normal else -1)),
        )
        for line in statement.lines
    ]
    return schemas.StatementOut(
        account=code,
        instrument=instrument,
        lines=lines,
        next_cursor=statement.next_cursor,
    )


@router.get("/trial-balance", response_model=schemas.TrialBalanceOut, tags=["balances"])
def get_trial_balance(
    instrument: InstrumentQuery, store: Store, actor: Acts
) -> schemas.TrialBalanceOut:
    """Every account's net balance in one instrument in its debit or credit column."""
    trial = queries.get_trial_balance(store, actor, instrument)
    fmt = trial.instrument.format
    lines = [
        schemas.TrialBalanceLineOut(
            account=line.account_code,
            party=line.party,
            normal_side=line.normal_side.value,
            debit=fmt(line.debit),
            credit=fmt(line.credit),
        )
        for line in trial.lines
    ]
    return schemas.TrialBalanceOut(
        instrument=instrument,
        lines=lines,
        debits_total=fmt(trial.debits_total),
        credits_total=fmt(trial.credits_total),
        balanced=trial.balanced,
    )


@router.get("/invariants", response_model=schemas.InvariantReport, tags=["operations"])
def check_invariants(store: Store, actor: Acts) -> schemas.InvariantReport:
    """Recompute every invariant: the journal balances and every balance equals its postings."""
    violations = queries.check_invariants(store, actor)
    return schemas.InvariantReport(
        ok=not violations,
        violations=[schemas.ViolationOut(rule=v.rule, detail=v.detail) for v in violations],
    )


@router.get("/verify", response_model=schemas.VerifyReport, tags=["operations"])
def verify_journal(store: Store, actor: Acts, request: Request) -> schemas.VerifyReport:
    """Recompute every hash chain from its start and every invariant (writes nothing): per
    chain the first problem (a hash mismatch, a missing record, a gap, a head that disagrees, a
    record the chain does not account for or left unchained), what to do, and any violation;
    against the checkpoints of the configured directory, if any."""
    settings = request.app.state.settings
    directory = settings.checkpoint_dir
    loaded = None if directory is None else checkpoints.load(directory, settings.checkpoint_key)
    report = queries.verify_journal(store, actor, loaded)
    return schemas.VerifyReport(
        ok=report.ok,
        chains=[
            schemas.ChainVerdictOut(
                chain=verdict.chain,
                verified=verdict.verified,
                first_break=None
                if verdict.first_break is None
                else schemas.ChainBreakOut(
                    chain_seq=verdict.first_break.chain_seq,
                    record=verdict.first_break.record,
                    problem=verdict.first_break.problem.value,
                    detail=verdict.first_break.detail,
                    action=verdict.first_break.action,
                ),
            )
            for verdict in report.chains
        ],
        violations=[schemas.ViolationOut(rule=v.rule, detail=v.detail) for v in report.violations],
    )

"""Properties of the ledger through its services, on SQLite and PostgreSQL.

Hypothesis drives random sequences of operations (issuances, transfers and trades, batches,
holds, full and partial posts of holds, voids, reversals, freezes, replays and reused entry ids),
including many the ledger must refuse (overdrafts, over-posting a hold, posting a resolved hold,
reversing twice, debiting a frozen account, too precise or unbalanced amounts). A small model,
independent of the ledger's code, keeps what the balances must be and predicts which rule refuses
each operation (`pytest --hypothesis-show-statistics` shows how often each outcome came up).

The `store` fixture is function-scoped, so all examples of one test share one database. Each
example therefore opens its own accounts and uses its own entry ids (a unique prefix), and only
the invariant check and the trial balance look at the whole database, where every example's
entries must keep it consistent anyway.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ledger.domain.accounts import Side
from ledger.domain.entries import PostingRequest
from ledger.domain.errors import LedgerError
from ledger.domain.ports import AccountDraft, UnitOfWork
from ledger.persistence.store import Store
from ledger.services import journal, queries, registry
from ledger.services.transactions import read
from tests.factories import CEA, CNY, SO2, actor

DEBIT, CREDIT = Side.DEBIT, Side.CREDIT
INSTRUMENTS = {instrument.code: instrument for instrument in (SO2, CEA, CNY)}

# (name, normal side, non-negative): an issuance account that may go negative, three holders
# and a debit-normal bank account that must stay covered too.
ROLES = (
    ("ISSUANCE", DEBIT, False),
    ("PLANT-1", CREDIT, True),
    ("PLANT-2", CREDIT, True),
    ("PLANT-3", CREDIT, True),
    ("BANK", DEBIT, True),
)
ISSUANCE, BANK = 0, 4
HOLDERS = (1, 2, 3)

# A function-scoped `store` is shared by every example of a test; that is intended here: each
# example works in its own accounts and entry ids, so examples cannot interfere.
PROPERTY_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

_EXAMPLES = itertools.count()

Key = tuple[str, str]  # (account code, instrument code)
Counters = tuple[int, int, int, int]  # debits and credits posted, debits and credits pending
Line = tuple[str, str, Side, int]  # account code, instrument code, side, units


# -- operations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """Debit one account and credit another; `flaw` makes the request itself invalid."""

    debit: int
    credit: int
    instrument: str
    units: int
    pending: bool
    flaw: str = ""  # "" | "too_precise" | "unbalanced"


@dataclass(frozen=True)
class Trade:
    """The seller delivers SO2 to the buyer, who pays in CNY: four lines, two instruments."""

    seller: int
    buyer_offset: int
    so2_units: int
    cny_units: int
    pending: bool


@dataclass(frozen=True)
class Resolve:
    """Post a hold in full, in part, beyond what it holds, or void it."""

    hold: int
    how: str  # "full" | "partial" | "exceed" | "void"
    permille: int
    first_instrument_only: bool


@dataclass(frozen=True)
class Reverse:
    entry: int


@dataclass(frozen=True)
class Freeze:
    account: int
    frozen: bool


@dataclass(frozen=True)
class Replay:
    """Send an accepted request again with the same entry id."""

    write: int


@dataclass(frozen=True)
class Batch:
    """Several entries in one request: all of them or none."""

    entries: tuple[Move, ...]


@dataclass(frozen=True)
class Reuse:
    """Send a new, valid request under the entry id of an accepted one."""

    write: int


Operation = Move | Trade | Resolve | Reverse | Freeze | Replay | Batch | Reuse

UNITS = st.integers(min_value=1, max_value=3_000)
INSTRUMENT_CODES = st.sampled_from(sorted(INSTRUMENTS))
ACCOUNT_INDEXES = st.integers(min_value=0, max_value=len(ROLES) - 1)

funding = st.one_of(
    # Issuance to a holder, or a deposit that raises the bank account (debit-normal).
    st.builds(
        Move,
        debit=st.just(ISSUANCE),
        credit=st.sampled_from(HOLDERS),
        instrument=INSTRUMENT_CODES,
        units=st.integers(min_value=1, max_value=10_000),
        pending=st.just(False),
    ),
    st.builds(
        Move,
        debit=st.just(BANK),
        credit=st.just(ISSUANCE),
        instrument=INSTRUMENT_CODES,
        units=st.integers(min_value=1, max_value=10_000),
        pending=st.just(False),
    ),
)
valid_moves = st.builds(
    Move,
    debit=ACCOUNT_INDEXES,
    credit=ACCOUNT_INDEXES,
    instrument=INSTRUMENT_CODES,
    units=UNITS,
    pending=st.booleans(),
)
moves = st.one_of(
    valid_moves,
    st.builds(
        Move,
        debit=ACCOUNT_INDEXES,
        credit=ACCOUNT_INDEXES,
        instrument=INSTRUMENT_CODES,
        units=UNITS,
        pending=st.booleans(),
        flaw=st.sampled_from(["too_precise", "unbalanced"]),
    ),
)
holds = st.builds(
    Move,
    debit=st.sampled_from((*HOLDERS, BANK)),
    credit=ACCOUNT_INDEXES,
    instrument=INSTRUMENT_CODES,
    units=UNITS,
    pending=st.just(True),
)
trades = st.builds(
    Trade,
    seller=st.sampled_from(HOLDERS),
    buyer_offset=st.integers(min_value=1, max_value=2),
    so2_units=UNITS,
    cny_units=UNITS,
    pending=st.booleans(),
)
resolutions = st.builds(
    Resolve,
    hold=st.integers(min_value=0, max_value=50),
    how=st.sampled_from(["full", "partial", "partial", "exceed", "void"]),
    permille=st.integers(min_value=1, max_value=1000),
    first_instrument_only=st.booleans(),
)
reversals = st.builds(Reverse, entry=st.integers(min_value=0, max_value=50))
freezes = st.builds(Freeze, account=st.sampled_from((*HOLDERS, BANK)), frozen=st.booleans())
replays = st.builds(Replay, write=st.integers(min_value=0, max_value=50))
batches = st.builds(
    Batch,
    st.lists(st.one_of(valid_moves, holds), min_size=2, max_size=3).map(tuple),
)
reuses = st.builds(Reuse, write=st.integers(min_value=0, max_value=50))

operations: st.SearchStrategy[Operation] = st.one_of(
    funding,
    moves,
    holds,
    holds,
    trades,
    resolutions,
    resolutions,
    resolutions,
    reversals,
    freezes,
    replays,
    batches,
    reuses,
)
# Every holder and the bank start with some of every instrument, so that transfers, trades and
# holds have something to move (and overdrafts are a matter of amounts, not of empty accounts).
opening = st.tuples(
    *(
        st.builds(
            Move,
            debit=st.just(BANK),
            credit=st.just(ISSUANCE),
            instrument=st.just(code),
            units=st.integers(min_value=1, max_value=10_000),
            pending=st.just(False),
        )
        if account == BANK
        else st.builds(
            Move,
            debit=st.just(ISSUANCE),
            credit=st.just(account),
            instrument=st.just(code),
            units=st.integers(min_value=1, max_value=10_000),
            pending=st.just(False),
        )
        for account in (*HOLDERS, BANK)
        for code in sorted(INSTRUMENTS)
    )
)
programs = st.builds(
    lambda opening, rest: [*opening, *rest], opening, st.lists(operations, min_size=3, max_size=20)
)


# -- the model and the driver ---------------------------------------------------------------


@dataclass
class Record:
    """The model of one journal record the ledger accepted."""

    entry_id: str
    status: str  # posted | pending | voided
    lines: tuple[Line, ...]
    reversed: bool = False
    resolution: str | None = None  # of a pending record: posted | voided
    reverses: Record | None = None  # of a reversal: the record it reverses


@dataclass(frozen=True)
class Attempt:
    """An operation ready to send: the model's prediction, the call, the model's update."""

    predicted: str  # "accepted", "replayed" or the code of the rule that must refuse it
    call: Callable[[], object]
    on_accepted: Callable[[], None]


@dataclass(frozen=True)
class Step:
    """One operation as it ran: what the model predicted, what happened, balances around it."""

    operation: Operation
    predicted: str
    outcome: str  # the same vocabulary as `predicted`, as the ledger answered
    before: dict[Key, Counters]
    after: dict[Key, Counters]
    undone: tuple[Line, ...] = ()  # of an accepted reversal: the lines of the reversed entry


@dataclass
class World:
    """One example's accounts on the ledger, and the model of what their balances must be."""

    store: Store
    prefix: str = field(default_factory=lambda: f"prop{next(_EXAMPLES)}")
    counters: dict[Key, list[int]] = field(default_factory=dict)
    roles: dict[str, tuple[Side, bool]] = field(default_factory=dict)
    frozen: dict[str, bool] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)
    holds: list[Record] = field(default_factory=list)
    writes: list[Callable[[], object]] = field(default_factory=list)
    watch: bool = True  # read the balances around every step (off where a test needs none)
    _ids: Iterator[int] = field(default_factory=itertools.count)
    _last_seen: dict[Key, Counters] | None = None

    def __post_init__(self) -> None:
        for instrument in INSTRUMENTS.values():
            registry.register_instrument(self.store, actor(self.store), instrument)
        for index, (name, side, non_negative) in enumerate(ROLES):
            code = self.code(index)
            registry.open_account(
                self.store,
                actor(self.store),
                AccountDraft(code, self.prefix, name, side, non_negative, None),
            )
            self.roles[code] = (side, non_negative)
            self.frozen[code] = False

    # -- naming --

    def code(self, index: int) -> str:
        return f"{self.prefix}-{ROLES[index][0]}"

    def new_id(self) -> str:
        return f"{self.prefix}-e{next(self._ids)}"

    # -- reading the ledger --

    def balances(self) -> dict[Key, Counters]:
        """Every non-zero balance of this example's accounts, as the ledger reports it."""
        codes = list(self.roles)

        def work(uow: UnitOfWork) -> dict[Key, Counters]:
            found = {}
            for code in codes:
                account = registry.find_account(uow, code)
                for b in uow.journal.balances_of(account.id):
                    counters = (
                        b.debits_posted,
                        b.credits_posted,
                        b.debits_pending,
                        b.credits_pending,
                    )
                    if any(counters):
                        found[(code, b.instrument_code)] = counters
            return found

        return read(self.store, work)

    def expected(self) -> dict[Key, Counters]:
        """What the model says the balances must be."""
        return {key: (c[0], c[1], c[2], c[3]) for key, c in self.counters.items() if any(c)}

    def available(self, key: Key, counters: Sequence[int] | None = None) -> int:
        if counters is None:
            counters = self.counters.get(key, [0] * 4)
        debits, credits, debits_pending, credits_pending = counters
        if self.roles[key[0]][0] is DEBIT:
            return debits - credits - credits_pending
        return credits - debits - debits_pending

    def posted(self, key: Key, counters: Sequence[int]) -> int:
        sign = 1 if self.roles[key[0]][0] is DEBIT else -1
        return sign * (counters[0] - counters[1])

    # -- the rules, as the model understands them --

    def refusal(
        self,
        lines: Sequence[Line],
        *,
        pending: bool,
        released: Sequence[Line] = (),
        counters: dict[Key, list[int]] | None = None,
    ) -> str:
        """Which rule refuses booking `lines` (after releasing `released` holds), or "accepted"."""
        for account, _, side, _ in lines:
            if side is DEBIT and self.frozen[account]:
                return "account_frozen"
        current = self.counters if counters is None else counters
        trial = {key: list(c) for key, c in current.items()}
        _apply(trial, released, pending=True, sign=-1)
        _apply(trial, lines, pending=pending)
        for key in {(a, i) for a, i, _, _ in (*lines, *released)}:
            if self.roles[key[0]][1] and self.available(key, trial.get(key, [0] * 4)) < 0:
                return "insufficient_balance"
        return "accepted"

    # -- running operations --

    def run(self, program: Sequence[Operation]) -> list[Step]:
        steps = []
        for operation in program:
            step = self.step(operation)
            if step is not None:
                steps.append(step)
        return steps

    def step(self, operation: Operation) -> Step | None:
        """Run one operation (None if it has nothing to act on yet, say no hold to post)."""
        attempt = self.attempt(operation)
        if attempt is None:
            return None
        # Only this example's operations touch its accounts: what the last step left is current.
        before = self._last_seen if self._last_seen is not None else self._watched()
        try:
            answer = attempt.call()
        except LedgerError as error:
            outcome = error.code
        else:
            written = answer if isinstance(answer, list) else [answer]
            entries = [posted for posted in written if isinstance(posted, journal.Posted)]
            replayed = bool(entries) and all(posted.replayed for posted in entries)
            outcome = "replayed" if replayed else "accepted"
            if not replayed:
                attempt.on_accepted()
            if entries and not replayed:
                self.writes.append(attempt.call)
        undone: tuple[Line, ...] = ()
        reversal = self.records[-1] if self.records else None
        if isinstance(operation, Reverse) and outcome == "accepted" and reversal is not None:
            assert reversal.reverses is not None
            undone = reversal.reverses.lines
        self._last_seen = self._watched()
        return Step(operation, attempt.predicted, outcome, before, self._last_seen, undone)

    def _watched(self) -> dict[Key, Counters]:
        return self.balances() if self.watch else {}

    def attempt(self, operation: Operation) -> Attempt | None:
        """The operation ready to send, or None if it has nothing to act on yet."""
        handlers: dict[type, Callable[[Any], Attempt | None]] = {
            Move: self._move,
            Trade: self._trade,
            Resolve: self._resolve,
            Reverse: self._reverse,
            Freeze: self._freeze,
            Replay: self._replay,
            Batch: self._batch,
            Reuse: self._reuse,
        }
        return handlers[type(operation)](operation)

    def _batch(self, batch: Batch) -> Attempt:
        entries = []
        for move in batch.entries:
            lines = (
                (self.code(move.debit), move.instrument, DEBIT, move.units),
                (self.code(move.credit), move.instrument, CREDIT, move.units),
            )
            entries.append((self.new_id(), lines, move.pending))
        commands = [
            journal.PostEntry(entry_id, "transfer", _requests(lines), pending=pending)
            for entry_id, lines, pending in entries
        ]
        # Entry by entry, each seeing the ones before it; the first refusal refuses them all.
        predicted, trial = "accepted", {key: list(c) for key, c in self.counters.items()}
        for _, lines, pending in entries:
            predicted = self.refusal(lines, pending=pending, counters=trial)
            if predicted != "accepted":
                break
            _apply(trial, lines, pending=pending)

        def remember() -> None:
            for entry_id, lines, pending in entries:
                self._remember(entry_id, lines, pending=pending)

        return Attempt(predicted, lambda: journal.post_batch(self.store, commands), remember)

    def _reuse(self, reuse: Reuse) -> Attempt | None:
        if not self.records:
            return None
        taken = self.records[reuse.write % len(self.records)].entry_id
        lines = (
            (self.code(ISSUANCE), CEA.code, DEBIT, 1),
            (self.code(HOLDERS[0]), CEA.code, CREDIT, 1),
        )
        command = journal.PostEntry(taken, "issuance", _requests(lines))
        return Attempt(
            "entry_exists_with_different_request",
            lambda: journal.post_entry(self.store, command),
            _nothing,
        )

    def _freeze(self, freeze: Freeze) -> Attempt:
        code = self.code(freeze.account)

        def call() -> None:
            (registry.freeze_account if freeze.frozen else registry.unfreeze_account)(
                self.store, actor(self.store), code
            )

        def remember() -> None:
            self.frozen[code] = freeze.frozen

        return Attempt("accepted", call, remember)

    def _replay(self, replay: Replay) -> Attempt | None:
        if not self.writes:
            return None
        return Attempt("replayed", self.writes[replay.write % len(self.writes)], _nothing)

    def _trade(self, trade: Trade) -> Attempt:
        seller = trade.seller
        buyer = HOLDERS[(HOLDERS.index(seller) + trade.buyer_offset) % len(HOLDERS)]
        lines = (
            (self.code(seller), SO2.code, DEBIT, trade.so2_units),
            (self.code(buyer), SO2.code, CREDIT, trade.so2_units),
            (self.code(buyer), CNY.code, DEBIT, trade.cny_units),
            (self.code(seller), CNY.code, CREDIT, trade.cny_units),
        )
        return self._post(lines, trade.pending, "trade")

    def _move(self, move: Move) -> Attempt:
        instrument = INSTRUMENTS[move.instrument]
        debit, credit = self.code(move.debit), self.code(move.credit)
        credit_units = move.units + (1 if move.flaw == "unbalanced" else 0)
        lines = (
            (debit, move.instrument, DEBIT, move.units),
            (credit, move.instrument, CREDIT, credit_units),
        )
        if not move.flaw:
            return self._post(lines, move.pending, "transfer")
        debit_amount = instrument.to_amount(move.units)
        if move.flaw == "too_precise":
            debit_amount += Decimal(1).scaleb(-instrument.scale - 1)
        command = journal.PostEntry(
            entry_id=self.new_id(),
            entry_type="transfer",
            pending=move.pending,
            postings=(
                PostingRequest(debit, move.instrument, DEBIT, debit_amount),
                PostingRequest(credit, move.instrument, CREDIT, instrument.to_amount(credit_units)),
            ),
        )
        code = "amount_too_precise" if move.flaw == "too_precise" else "entry_unbalanced"
        return Attempt(code, lambda: journal.post_entry(self.store, command), _nothing)

    def _post(self, lines: tuple[Line, ...], pending: bool, entry_type: str) -> Attempt:
        command = journal.PostEntry(
            entry_id=self.new_id(),
            entry_type=entry_type,
            postings=_requests(lines),
            pending=pending,
        )

        def remember() -> None:
            self._remember(command.entry_id, lines, pending=pending)

        predicted = self.refusal(lines, pending=pending)
        return Attempt(predicted, lambda: journal.post_entry(self.store, command), remember)

    def _remember(self, entry_id: str, lines: tuple[Line, ...], *, pending: bool) -> None:
        _apply(self.counters, lines, pending=pending)
        record = Record(entry_id, "pending" if pending else "posted", lines)
        self.records.append(record)
        if pending:
            self.holds.append(record)

    def _resolve(self, resolve: Resolve) -> Attempt | None:
        if not self.holds:
            return None
        hold = self.holds[resolve.hold % len(self.holds)]
        already = None if hold.resolution is None else f"pending_entry_already_{hold.resolution}"
        entry_id = self.new_id()
        if resolve.how == "void":
            command = journal.ResolvePending(hold.entry_id, entry_id)

            def void() -> None:
                _apply(self.counters, hold.lines, pending=True, sign=-1)
                hold.resolution = "voided"
                self.records.append(Record(entry_id, "voided", ()))

            return Attempt(
                already or "accepted", lambda: journal.void_pending_entry(self.store, command), void
            )
        lines, predicted = hold.lines, already
        requested = None
        if resolve.how != "full":
            lines, exceeds = _part(hold.lines, resolve)
            requested = _requests(lines)
            if exceeds:
                predicted = "post_exceeds_pending"
        command = journal.ResolvePending(hold.entry_id, entry_id, requested)

        def post() -> None:
            _apply(self.counters, hold.lines, pending=True, sign=-1)
            _apply(self.counters, lines, pending=False)
            hold.resolution = "posted"
            self.records.append(Record(entry_id, "posted", lines))

        predicted = predicted or self.refusal(lines, pending=False, released=hold.lines)
        return Attempt(predicted, lambda: journal.post_pending_entry(self.store, command), post)

    def _reverse(self, reverse: Reverse) -> Attempt | None:
        if not self.records:
            return None
        original = self.records[reverse.entry % len(self.records)]
        swapped = tuple((a, i, side.opposite, u) for a, i, side, u in original.lines)
        command = journal.ReverseEntry(original.entry_id, self.new_id())
        if original.status != "posted":
            predicted = "entry_not_reversible"
        elif original.reversed:
            predicted = "entry_already_reversed"
        else:
            predicted = self.refusal(swapped, pending=False)

        def remember() -> None:
            _apply(self.counters, swapped, pending=False)
            original.reversed = True
            self.records.append(Record(command.entry_id, "posted", swapped, reverses=original))

        return Attempt(predicted, lambda: journal.reverse_entry(self.store, command), remember)


def _nothing() -> None:
    return None


def _apply(
    counters: dict[Key, list[int]], lines: Sequence[Line], *, pending: bool, sign: int = 1
) -> None:
    for account, instrument, side, units in lines:
        slot = (0 if side is DEBIT else 1) + (2 if pending else 0)
        counters.setdefault((account, instrument), [0] * 4)[slot] += sign * units


def _requests(lines: Sequence[Line]) -> tuple[PostingRequest, ...]:
    return tuple(
        PostingRequest(account, instrument, side, INSTRUMENTS[instrument].to_amount(units))
        for account, instrument, side, units in lines
    )


def _part(lines: Sequence[Line], resolve: Resolve) -> tuple[tuple[Line, ...], bool]:
    """The requested part of a hold's lines, and whether it asks for more than the hold has."""
    instruments = list(dict.fromkeys(i for _, i, _, _ in lines))
    if resolve.first_instrument_only:
        instruments = instruments[:1]
    part = []
    for account, instrument, side, units in lines:
        if instrument not in instruments:
            continue
        take = max(1, units * resolve.permille // 1000)
        if resolve.how == "exceed" and instrument == instruments[0]:
            take = units + 1
        part.append((account, instrument, side, take))
    return tuple(part), resolve.how == "exceed"


# -- properties over any sequence of operations ---------------------------------------------


@PROPERTY_SETTINGS
@given(program=programs)
def test_any_sequence_of_operations_leaves_the_ledger_passing_its_invariant_check(
    store: Store, program: list[Operation]
) -> None:
    World(store, watch=False).run(program)

    assert queries.check_invariants(store, actor(store)) == []


@PROPERTY_SETTINGS
@given(program=programs)
def test_any_sequence_of_operations_keeps_debits_equal_to_credits_in_every_instrument(
    store: Store, program: list[Operation]
) -> None:
    world = World(store, watch=False)
    world.run(program)

    totals: dict[str, list[int]] = defaultdict(lambda: [0] * 4)
    for (_, instrument), counters in world.balances().items():
        totals[instrument] = [t + c for t, c in zip(totals[instrument], counters, strict=True)]
    for debits, credits, debits_pending, credits_pending in totals.values():
        assert debits == credits
        assert debits_pending == credits_pending
    for instrument in INSTRUMENTS:
        trial = queries.get_trial_balance(store, actor(store), instrument)
        assert trial.debits_total == trial.credits_total


@PROPERTY_SETTINGS
@given(program=programs)
def test_every_balance_equals_the_sum_of_the_operations_the_ledger_accepted(
    store: Store, program: list[Operation]
) -> None:
    world = World(store)

    for operation in program:
        step = world.step(operation)
        if step is not None:
            assert step.after == world.expected(), (operation, step.outcome)


@PROPERTY_SETTINGS
@given(program=programs)
def test_each_operation_is_accepted_or_refused_exactly_as_the_rules_say(
    store: Store, program: list[Operation]
) -> None:
    world = World(store, watch=False)

    for step in world.run(program):
        kind = type(step.operation).__name__
        if isinstance(step.operation, Move | Trade) and step.operation.pending:
            kind += " (hold)"
        elif isinstance(step.operation, Resolve):
            kind += f" ({step.operation.how})"
        event(f"{kind}: {step.outcome}")  # shown by --hypothesis-show-statistics
        assert step.outcome == step.predicted, step.operation


@PROPERTY_SETTINGS
@given(program=programs)
def test_a_refused_operation_changes_no_balance(store: Store, program: list[Operation]) -> None:
    steps = World(store).run(program)

    for step in steps:
        if step.outcome not in ("accepted", "replayed"):
            assert step.after == step.before, (step.operation, step.outcome)


@PROPERTY_SETTINGS
@given(program=programs)
def test_replaying_an_accepted_request_changes_no_balance(
    store: Store, program: list[Operation]
) -> None:
    steps = World(store).run([*program, Replay(0), Replay(len(program) // 2)])

    for step in steps:
        if isinstance(step.operation, Replay):
            assert step.outcome == "replayed"
            assert step.after == step.before, step.operation


@PROPERTY_SETTINGS
@given(program=programs)
def test_a_reversal_undoes_exactly_what_the_reversed_entry_posted(
    store: Store, program: list[Operation]
) -> None:
    world = World(store)

    for step in world.run(program):
        if not (isinstance(step.operation, Reverse) and step.outcome == "accepted"):
            continue
        posted_by_original: dict[Key, int] = defaultdict(int)  # debits − credits
        for account, instrument, side, units in step.undone:
            posted_by_original[(account, instrument)] += units if side is DEBIT else -units
        for key in step.before.keys() | step.after.keys():
            before, after = step.before.get(key, (0,) * 4), step.after.get(key, (0,) * 4)
            assert (after[0] - after[1]) - (before[0] - before[1]) == -posted_by_original[key]
            assert after[2:] == before[2:], "a reversal never touches what is on hold"


# -- a reversal right after its entry -------------------------------------------------------


@st.composite
def covered_entries(draw: st.DrawFn, world: World) -> tuple[Line, ...]:
    """A transfer or trade the ledger must accept, and whose reversal it must accept too."""
    unfrozen_holders = [h for h in HOLDERS if not world.frozen[world.code(h)]]

    def has(index: int, instrument: str) -> int:
        return world.available((world.code(index), instrument))

    sellers = [s for s in unfrozen_holders if has(s, SO2.code) > 0]
    buyers = [b for b in unfrozen_holders if has(b, CNY.code) > 0]
    pairs = [(s, b) for s in sellers for b in buyers if s != b]
    trade: bool = draw(st.booleans(), label="trade")
    if pairs and trade:
        seller, buyer = draw(st.sampled_from(pairs))
        so2 = draw(st.integers(min_value=1, max_value=has(seller, SO2.code)))
        cny = draw(st.integers(min_value=1, max_value=has(buyer, CNY.code)))
        return (
            (world.code(seller), SO2.code, DEBIT, so2),
            (world.code(buyer), SO2.code, CREDIT, so2),
            (world.code(buyer), CNY.code, DEBIT, cny),
            (world.code(seller), CNY.code, CREDIT, cny),
        )
    instrument = draw(INSTRUMENT_CODES)
    # Debiting the issuance or the bank account never needs cover; a holder needs what it has.
    debits = [ISSUANCE, *([BANK] if not world.frozen[world.code(BANK)] else [])]
    debits += [h for h in unfrozen_holders if has(h, instrument) > 0]
    debit = draw(st.sampled_from(debits))
    # Crediting the issuance account or an unfrozen holder is always allowed, and so is taking
    # it back from them in the reversal.
    credit = draw(st.sampled_from([ISSUANCE, *unfrozen_holders]))
    cap = has(debit, instrument) if debit in HOLDERS else 5_000
    units = draw(st.integers(min_value=1, max_value=cap))
    return (
        (world.code(debit), instrument, DEBIT, units),
        (world.code(credit), instrument, CREDIT, units),
    )


def figures(world: World, balances: dict[Key, Counters]) -> dict[Key, tuple[int, int]]:
    """Posted balance and available amount of every key, on its account's normal side."""
    return {
        key: (world.posted(key, counters), world.available(key, counters))
        for key, counters in balances.items()
        if world.posted(key, counters) or world.available(key, counters) or any(counters[2:])
    }


@PROPERTY_SETTINGS
@given(program=programs, data=st.data())
def test_reversing_an_entry_right_after_it_restores_every_balance_it_touched(
    store: Store, program: list[Operation], data: st.DataObject
) -> None:
    world = World(store, watch=False)
    world.run(program)
    lines = data.draw(covered_entries(world), label="entry")
    before = figures(world, world.balances())

    entry = journal.post_entry(
        store, journal.PostEntry(world.new_id(), "transfer", postings=_requests(lines))
    )
    journal.reverse_entry(store, journal.ReverseEntry(entry.entry.entry_id, world.new_id()))

    assert figures(world, world.balances()) == before

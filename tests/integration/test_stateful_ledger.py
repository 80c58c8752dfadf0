"""A stateful property test of the whole registry through its services, on SQLite and PostgreSQL.

Hypothesis drives a `RuleBasedStateMachine` through random sequences of the registry's use cases
and the journal's own: entitlements, carbon issuance and deposits; trades proposed, accepted,
declined, rescinded, recorded, refused and expired (by action and by the sweep); pledges and
their release; obligations, surrenders (oldest vintage first, a named vintage, CCER within its
cap) and the deadline's penalty; transfers and holds through the journal, posted in full or in
part, voided or expired by the clock; reversals of any entry; freezes; and vintage expiry. Many
moves are invalid on purpose (the wrong party, the wrong state, too little to give, a closed
obligation, a released pledge, a resolved hold, a second reversal …).

A model written independently of the services keeps what every balance counter must be and
predicts the outcome of each move: accepted, a no-op (an idempotent retry), or the code of the
rule that refuses it. After every step:
- every balance row equals the model (all four counters of every account and instrument);
- a refused move or a retry changed no row of the ledger or the registry;
- the sealer seals the journal and `verify` recomputes the hash chain from link 1 and runs the
  invariant check (Σ debits = Σ credits per instrument and per entry, balances equal postings,
  running balances): no break, no violation;
- no non-negative account is negative, even after what holds may take;
- supply is conserved per instrument: issued − cancelled − retired = Σ holdings, pledged,
  reserve and surrendered.

Each example gets an empty migrated database cheaply: a copy of the session's SQLite template, or
the session's PostgreSQL database truncated. `LEDGER_STATEFUL_EXAMPLES` and
`LEDGER_STATEFUL_STEPS` raise the bounds for a longer hunt.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, text

from ledger.domain.access import Actor, Pending, Role
from ledger.domain.accounts import Side
from ledger.domain.entries import PostingRequest
from ledger.domain.errors import LedgerError
from ledger.domain.registry import (
    Entitlement,
    Obligation,
    Party,
    PartyKind,
    Pledge,
    Trade,
)
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services import (
    approvals,
    chain,
    compliance,
    journal,
    parties,
    registry,
    rights,
    trading,
)
from tests.conftest import BACKENDS, empty_postgres
from tests.factories import actor, known_city
from tests.integration.registry_support import TABLES as RECORD_TABLES
from tests.integration.registry_support import of
from tests.integration.support import START, ManualClock

DEBIT, CREDIT = Side.DEBIT, Side.CREDIT
# Bounded for CI (about 15 s on SQLite and 50 s on PostgreSQL on the 2-core machine, where a
# fresh PostgreSQL example costs a TRUNCATE of every table); raise them for a longer hunt.
EXAMPLES = {
    "sqlite": int(os.environ.get("LEDGER_STATEFUL_EXAMPLES", "15")),
    "postgresql": int(os.environ.get("LEDGER_STATEFUL_EXAMPLES", "8")),
}
STEPS = int(os.environ.get("LEDGER_STATEFUL_STEPS", "50"))
# Outcome counts per move, printed with LEDGER_STATEFUL_REPORT=1 (and pytest -s): what came up.
OUTCOMES: Counter[str] = Counter()
STATEFUL_SETTINGS = settings(
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# -- the registry the machine plays in, stated independently of the services' chart -------

PROVINCE, EXCHANGE = "HEBEI", "EXCHANGE"
CITY_OF = {"E1": "Tangshan", "E2": "Tangshan", "E3": "Tangshan", "E4": "Xingtai"}
ENTERPRISES = tuple(CITY_OF)
MAY_RECEIVE = {"Tangshan": True, "Xingtai": False}
UNKNOWN_PARTY = "E9"
# account suffix -> (normal side, non-negative), per kind of party (docs/domain/registry.md,
# chart of accounts)
ENTERPRISE_CHART = {
    "holdings": (CREDIT, True),
    "cash": (CREDIT, True),
    "pledged": (CREDIT, True),
    "surrendered": (CREDIT, True),
    "penalties": (DEBIT, False),
}
AUTHORITY_CHART = {
    "issuance": (DEBIT, False),
    "reserve": (CREDIT, True),
    "retirement": (CREDIT, True),
    "cancellation": (CREDIT, True),
    "revenue": (CREDIT, True),
    "cash": (CREDIT, False),
}
EXCHANGE_CHART = {
    "holdings": (CREDIT, True),
    "cash": (CREDIT, True),
    "revenue": (CREDIT, True),
    "deposits": (DEBIT, False),
}
HELD = ("holdings", "pledged", "reserve", "surrendered")  # where issued units are held
GONE = ("cancellation", "retirement")  # where issued units leave circulation
EXPIRING = ("holdings", "pledged", "reserve")  # what a vintage expiry empties

TRADE_DAY = date(2026, 3, 1)
SO2_FLOOR_FEN = 500_000  # per t
FEE_PER_MILLE = 15
PENALTY_MULTIPLIER = 5
CCER_CAP_PERCENT = 5
CNY = "CNY"
SCALE = {"SO2": 3, "CEA": 0, "CCER": 0, CNY: 2}

Key = tuple[str, str]  # (account code, instrument code)
Line = tuple[str, str, Side, int]  # account, instrument, side, units

OK, NOOP = "ok", "noop"  # predictions besides a refusal's code


def so2(vintage: int) -> str:
    return f"SO2-{vintage}"


def family_of(instrument: str) -> str:
    return instrument.split("-", 1)[0]


def move(source: str, destination: str, instrument: str, units: int) -> list[Line]:
    return [(source, instrument, DEBIT, units), (destination, instrument, CREDIT, units)]


def half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-up (both non-negative)."""
    return (2 * numerator + denominator) // (2 * denominator)


# -- the model -------------------------------------------------------------------------------


@dataclass
class ModelEntry:
    status: str  # posted | pending | voided | expired
    lines: tuple[Line, ...]
    reversed: bool = False
    resolution: str | None = None  # of a pending entry: posted | voided | expired
    expires_at: datetime | None = None


@dataclass
class ModelTrade:
    seller: str
    buyer: str
    proposer: str
    units: int
    price_fen: int
    codes: tuple[str, ...]
    expires_at: datetime | None
    state: str = "proposed"
    last_actor: str = ""
    hold: tuple[Line, ...] = ()

    @property
    def counterparty(self) -> str:
        return self.buyer if self.proposer == self.seller else self.seller


@dataclass
class ModelPledge:
    party: str
    units: int
    codes: tuple[str, ...]
    released: bool = False


@dataclass
class ModelObligation:
    party: str
    period: int
    verified: int
    deadline: date
    closed: bool = False
    surrendered: int = 0
    ccer: int = 0
    deduction: int = 0  # the shortfall at the deadline, to deduct from later allocations
    deducted: int = 0  # of it, deducted so far


@dataclass
class Model:
    """What the ledger must hold, built from the registry's rules as docs/domain/registry.md
    states them."""

    chart: dict[str, tuple[Side, bool]] = field(default_factory=dict)
    frozen: set[str] = field(default_factory=set)
    counters: dict[Key, list[int]] = field(default_factory=dict)
    entries: dict[str, ModelEntry] = field(default_factory=dict)
    instruments: set[str] = field(default_factory=lambda: {CNY})
    expired: set[str] = field(default_factory=set)
    entitlements: dict[str, Entitlement] = field(default_factory=dict)
    trades: dict[str, ModelTrade] = field(default_factory=dict)
    pledges: dict[str, ModelPledge] = field(default_factory=dict)
    obligations: dict[str, ModelObligation] = field(default_factory=dict)
    holds: list[str] = field(default_factory=list)  # pending entries placed through the journal

    def open_chart(self, party: str, chart: dict[str, tuple[Side, bool]]) -> None:
        for suffix, rule_ in chart.items():
            self.chart[f"{party}:{suffix}"] = rule_

    # -- balances --

    def get(self, key: Key) -> list[int]:
        return self.counters.get(key, [0, 0, 0, 0])

    def posted(self, key: Key, counters: list[int] | None = None) -> int:
        dp, cp, _, _ = self.get(key) if counters is None else counters
        return dp - cp if self.chart[key[0]][0] is DEBIT else cp - dp

    def available(self, key: Key, counters: list[int] | None = None) -> int:
        c = self.get(key) if counters is None else counters
        return self.posted(key, c) - (c[3] if self.chart[key[0]][0] is DEBIT else c[2])

    def refusal(
        self, lines: tuple[Line, ...], *, pending: bool, released: tuple[Line, ...] = ()
    ) -> str | None:
        """The code that refuses booking `lines` (after releasing `released`), else None:
        account rules posting by posting first, then every touched non-negative balance."""
        for account, _, side, _ in lines:
            if side is DEBIT and account in self.frozen:
                return "account_frozen"
        trial = {key: list(c) for key, c in self.counters.items()}
        _apply(trial, released, pending=True, sign=-1)
        _apply(trial, lines, pending=pending)
        for account, instrument, _, _ in lines:
            key = (account, instrument)
            if self.chart[account][1] and self.available(key, trial.get(key)) < 0:
                return "insufficient_balance"
        return None

    def book(
        self,
        entry_id: str,
        lines: tuple[Line, ...],
        *,
        pending: bool = False,
        expires_at: datetime | None = None,
    ) -> None:
        _apply(self.counters, lines, pending=pending)
        self.entries[entry_id] = ModelEntry(
            "pending" if pending else "posted", lines, expires_at=expires_at
        )

    def resolve(self, hold_id: str, entry_id: str, outcome: str, lines: tuple[Line, ...]) -> None:
        hold = self.entries[hold_id]
        _apply(self.counters, hold.lines, pending=True, sign=-1)
        _apply(self.counters, lines, pending=False)
        hold.resolution = outcome
        if entry_id:
            self.entries[entry_id] = ModelEntry(outcome, lines)

    def can_give(self, party: str, source: str, codes: tuple[str, ...], units: int) -> str | None:
        """check_can_give: `source` can give `units` of each code, else pledged or short."""
        for code in codes:
            if self.available((source, code)) >= units:
                continue
            if self.posted((f"{party}:pledged", code)) > 0:
                return "rights_pledged"
            return "insufficient_balance"
        return None

    def any_trade(self, state: str) -> bool:
        return any(t.state == state for t in self.trades.values())

    def balances(self) -> dict[Key, tuple[int, ...]]:
        return {key: tuple(c) for key, c in self.counters.items() if any(c)}


def _apply(
    counters: dict[Key, list[int]], lines: tuple[Line, ...], *, pending: bool, sign: int = 1
) -> None:
    for account, instrument, side, units in lines:
        slot = (0 if side is DEBIT else 1) + (2 if pending else 0)
        counters.setdefault((account, instrument), [0, 0, 0, 0])[slot] += sign * units


def requests(lines: tuple[Line, ...]) -> tuple[PostingRequest, ...]:
    return tuple(
        PostingRequest(a, i, s, Decimal(u).scaleb(-SCALE[family_of(i)])) for a, i, s, u in lines
    )


# -- databases, one cheap empty one per example ----------------------------------------------


class Databases:
    """Hands each example an empty migrated database of one backend."""

    def __init__(self, backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.backend = backend
        self.tmp_path = tmp_path
        self.count = itertools.count()
        self.template: Path | None = None
        self.postgres: Engine | None = None
        if backend == "sqlite":
            self.template = request.getfixturevalue("sqlite_template")
        else:
            url: str = request.getfixturevalue("postgres_url")
            self.postgres = create_ledger_engine(url)

    def fresh(self, clock: ManualClock) -> Store:
        if self.postgres is not None:
            with self.postgres.begin() as connection:
                empty_postgres(connection)
            return Store(self.postgres, clock)
        assert self.template is not None
        path = self.tmp_path / f"example-{next(self.count)}.db"
        shutil.copyfile(self.template, path)
        return Store(create_ledger_engine(f"sqlite:///{path}", sqlite_synchronous="NORMAL"), clock)

    def release(self, store: Store) -> None:
        if self.postgres is None:
            store.dispose()

    def close(self) -> None:
        if self.postgres is not None:
            self.postgres.dispose()


def fingerprint(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the balances, the journal, the instruments and the registry's records."""
    with store.engine.connect() as connection:
        return {
            table: sorted(
                (tuple(row) for row in connection.execute(text(f"SELECT * FROM {table}"))),
                key=repr,
            )
            for table in (*RECORD_TABLES, "postings", "instruments", "accounts", "policies")
        }


def ledger_balances(store: Store) -> dict[Key, tuple[int, ...]]:
    with store.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT a.code, b.instrument_code, b.debits_posted, b.credits_posted, "
                "b.debits_pending, b.credits_pending "
                "FROM balances b JOIN accounts a ON a.id = b.account_id"
            )
        )
        return {(r[0], r[1]): (r[2], r[3], r[4], r[5]) for r in rows if any(r[2:])}


# -- the machine -----------------------------------------------------------------------------

PICK = st.integers(min_value=0, max_value=10_000)  # an index into a list, taken modulo its length
PARTY = st.sampled_from(ENTERPRISES)
SO2_UNITS = st.integers(min_value=1, max_value=40_000)  # kg


class LedgerMachine(RuleBasedStateMachine):
    """One example: an empty registry, a hand-driven clock, the model beside it."""

    def __init__(self, databases: Databases) -> None:
        super().__init__()
        self.databases = databases
        self.clock = ManualClock(START)
        self.store = databases.fresh(self.clock)
        self.model = Model()
        self.ids = itertools.count(1)

    def teardown(self) -> None:
        self.databases.release(self.store)

    @property
    def regulator(self) -> Actor:
        """The province's regulator (registered once the province is)."""
        return of(self.store, PROVINCE)

    def new_id(self, kind: str) -> str:
        return f"{kind}{next(self.ids)}"

    # -- running one move --

    def attempt(
        self, label: str, predicted: str, call: Callable[[], object], on_ok: Callable[[], None]
    ) -> None:
        """Run `call`; its outcome must be `predicted`; a refusal or no-op changes nothing."""
        before = fingerprint(self.store) if predicted != OK else None
        try:
            call()
        except LedgerError as error:
            outcome = error.code
        else:
            outcome = predicted if predicted in (OK, NOOP) else OK
        OUTCOMES[f"{label}: {outcome}"] += 1
        assert outcome == predicted, f"{label}: expected {predicted}, the ledger said {outcome}"
        if before is not None:
            assert fingerprint(self.store) == before, f"{label} ({outcome}) changed the ledger"
        if outcome == OK:
            on_ok()

    # -- setting up --

    @initialize(
        deposits=st.lists(
            st.integers(min_value=5_000_000, max_value=80_000_000), min_size=4, max_size=4
        ),
        entitled=st.lists(st.integers(min_value=10_000, max_value=100_000), min_size=3, max_size=3),
        carbon=st.lists(st.integers(min_value=0, max_value=3_000), min_size=4, max_size=4),
    )
    def build(self, deposits: list[int], entitled: list[int], carbon: list[int]) -> None:
        """HEBEI, the exchange, E1–E3 in Tangshan (may receive air rights) and E4 in Xingtai
        (may not); random cash, SO2 entitlements (2026–2027), CEA-2025 and a 2025 obligation."""
        m = self.model
        province = Party(PROVINCE, PartyKind.AUTHORITY, "Hebei")
        parties.bootstrap(
            self.store, province, Party(EXCHANGE, PartyKind.EXCHANGE, "Exchange"), "test"
        )
        m.open_chart(PROVINCE, AUTHORITY_CHART)
        m.open_chart(EXCHANGE, EXCHANGE_CHART)
        regulator = self.regulator
        for city, may in MAY_RECEIVE.items():
            known_city(self.store, regulator, city, may)
        for party, city in CITY_OF.items():
            registered = Party(party, PartyKind.ENTERPRISE, party, city=city)
            parties.register_party(self.store, regulator, registered)
            m.open_chart(party, ENTERPRISE_CHART)
        for party, fen in zip(ENTERPRISES, deposits, strict=True):
            if fen:
                self.deposit(party, fen)
        for party, units in zip(("E1", "E2", "E3"), entitled, strict=True):
            if units:
                self.entitle(party=party, units=units, first=2026, span=1, reuse=0)
        for party, units in zip(ENTERPRISES, carbon, strict=True):
            if units:
                self.issue_carbon(party=party, family="CEA", year=2025, units=units)
                self.set_obligation(party=party, period=2025, verified=units + 500, due=True)
        for seller, buyer in (("E1", "E2"), ("E2", "E3")):
            self.propose(
                seller=seller,
                buyer=buyer,
                by_seller=True,
                units=5_000,
                price=620_000,
                reason=False,
                expires=seller == "E2",
            )

    # -- allocations --

    @rule(party=PARTY, fen=st.integers(min_value=1, max_value=10_000_000))
    def deposit(self, party: str, fen: int) -> None:
        deposit_id = self.new_id("dep")
        lines = tuple(move(f"{EXCHANGE}:deposits", f"{party}:cash", CNY, fen))
        self.attempt(
            "deposit",
            OK,
            lambda: rights.deposit_cash(self.store, self.regulator, deposit_id, party, fen),
            lambda: self.model.book(f"deposit-{deposit_id}", lines),
        )

    @rule(
        party=st.sampled_from((*ENTERPRISES, *ENTERPRISES, UNKNOWN_PARTY)),
        units=st.integers(min_value=1, max_value=100_000),
        first=st.sampled_from((2026, 2026, 2026, 2027)),
        span=st.sampled_from((-1, 0, 1, 1, 1)),
        reuse=st.integers(min_value=0, max_value=3),
    )
    def entitle(self, party: str, units: int, first: int, span: int, reuse: int) -> None:
        """Confirm an entitlement; or send one already confirmed again (the same: a no-op;
        another definition under its id: refused)."""
        m = self.model
        if reuse == 3 and m.entitlements:
            old = list(m.entitlements.values())[units % len(m.entitlements)]
            same = units % 2 == 0
            again = (
                old if same else Entitlement(old.id, old.party_code, "SO2", units + 1, 2026, 2026)
            )
            predicted = NOOP if same else "record_exists_with_different_definition"
            if again == old:
                predicted = NOOP
            self.attempt(
                "entitle again",
                predicted,
                lambda: rights.confirm_entitlement(self.store, self.regulator, again),
                _nothing,
            )
            return
        last = first - 1 if span < 0 else min(first + span, 2027)  # vintages 2026–2027
        record = Entitlement(self.new_id("ent"), party, "SO2", units, first, last)
        codes = tuple(so2(v) for v in record.vintages)
        if party == UNKNOWN_PARTY:
            predicted = "unknown_party"
        elif last < first:
            predicted = "invalid_field"
        elif m.expired.intersection(codes):
            predicted = "vintage_expired"
        else:
            predicted = OK

        def booked() -> None:
            m.entitlements[record.id] = record
            m.instruments.update(codes)
            for vintage, code in zip(record.vintages, codes, strict=True):
                lines = move(f"{PROVINCE}:issuance", f"{party}:holdings", code, units)
                m.book(f"entitlement-{record.id}-{vintage}", tuple(lines))

        self.attempt(
            "entitle",
            predicted,
            lambda: rights.confirm_entitlement(self.store, self.regulator, record),
            booked,
        )

    @rule(
        party=PARTY,
        family=st.sampled_from(("CEA", "CEA", "CCER")),
        year=st.sampled_from((2025, 2026)),
        units=st.integers(min_value=1, max_value=5_000),
    )
    def issue_carbon(self, party: str, family: str, year: int, units: int) -> None:
        """Allocate CEA less what earlier shortfalls still owe (oldest first), or issue CCER."""
        m = self.model
        allocation = self.new_id("alloc")
        owing = sorted(
            (
                o
                for o in m.obligations.values()
                if family == "CEA" and o.party == party and o.period < year and o.closed
            ),
            key=lambda o: o.period,  # stable: of one period, in the order they were set
        )
        taken: list[tuple[ModelObligation, int]] = []
        left = units
        for o in owing:
            take = min(left, o.deduction - o.deducted)
            if take > 0:
                taken.append((o, take))
                left -= take
        issued = left
        code = f"CEA-{year}" if family == "CEA" else "CCER"

        def booked() -> None:
            for o, take in taken:
                o.deducted += take
            m.instruments.add(code)
            if issued:
                lines = move(f"{PROVINCE}:issuance", f"{party}:holdings", code, issued)
                m.book(f"allocation-{allocation}", tuple(lines))

        self.attempt(
            f"issue {family}",
            OK,
            lambda: rights.issue_carbon(
                self.store,
                self.regulator,
                allocation,
                party_code=party,
                family=family,
                year=year if family == "CEA" else None,
                units=units,
            ),
            booked,
        )

    # -- trades --

    @rule(
        seller=PARTY,
        buyer=st.sampled_from((*ENTERPRISES, *ENTERPRISES, UNKNOWN_PARTY)),
        by_seller=st.booleans(),
        units=st.integers(min_value=1, max_value=15_000),
        price=st.sampled_from((0, 400_000, 500_000, 620_000, 620_000, 800_000, 800_000)),
        reason=st.booleans(),
        expires=st.booleans(),
    )
    def propose(
        self,
        *,
        seller: str,
        buyer: str,
        by_seller: bool,
        units: int,
        price: int,
        reason: bool,
        expires: bool,
    ) -> None:
        m = self.model
        trade = Trade(
            id=self.new_id("T"),
            seller=seller,
            buyer=buyer,
            # An unknown buyer has no representative to propose: its seller proposes.
            proposer=seller if by_seller or buyer == UNKNOWN_PARTY else buyer,
            family="SO2",
            units=units,
            price_fen=price,
            first_vintage=None,
            last_vintage=None,
            trade_date=TRADE_DAY,
            zero_price_reason="transfer within the group" if reason else "",
            expires_at=self.clock.now + timedelta(hours=1) if expires else None,
        )
        held = [e for e in m.entitlements.values() if e.party_code == seller]
        predicted = ""
        if buyer == UNKNOWN_PARTY:
            predicted = "unknown_party"
        elif seller == buyer:
            predicted = "invalid_field"
        elif price == 0 and not reason:
            predicted = "price_zero_without_reason"
        elif 0 < price < SO2_FLOOR_FEN:
            predicted = "price_below_floor"
        first = max(min(e.first_vintage for e in held), TRADE_DAY.year) if held else 0
        last = max(e.last_vintage for e in held) if held else 0
        if predicted:
            pass  # refused before the vintages are looked at
        elif not held:
            predicted = "invalid_field"
        elif first > TRADE_DAY.year:  # every vintage it would move is later than its date
            predicted = "business_date_before_vintage"
        else:
            predicted = OK
        codes = tuple(so2(v) for v in range(first, last + 1))

        def booked() -> None:
            m.instruments.update(codes)
            m.trades[trade.id] = ModelTrade(
                seller,
                buyer,
                trade.proposer,
                units,
                price,
                codes,
                trade.expires_at,
                last_actor=trade.proposer,
            )

        self.attempt(
            "propose",
            predicted,
            lambda: trading.propose(self.store, of(self.store, trade.proposer), trade),
            booked,
        )

    def _hold_lines(self, t: ModelTrade) -> tuple[Line, ...]:
        lines: list[Line] = []
        for code in t.codes:
            lines += move(f"{t.seller}:holdings", f"{t.buyer}:holdings", code, t.units)
        value = half_up(t.price_fen * t.units, 1000)
        if value:
            fee = half_up(value * FEE_PER_MILLE, 1000)
            buyer_fee, seller_fee = fee - fee // 2, fee // 2
            lines.append((f"{t.buyer}:cash", CNY, DEBIT, value + buyer_fee))
            lines.append((f"{t.seller}:cash", CNY, CREDIT, value - seller_fee))
            if fee:
                lines.append((f"{EXCHANGE}:revenue", CNY, CREDIT, fee))
        return tuple(lines)

    @precondition(lambda self: bool(self.model.trades))
    @rule(
        pick=PICK,
        action=st.sampled_from(
            ("accept", "accept", "decline", "rescind", "record", "record", "refuse", "expire")
        ),
        right_party=st.integers(min_value=0, max_value=4),
        fitting=st.integers(min_value=0, max_value=3),
    )
    def act_on_trade(self, pick: int, action: str, right_party: int, fitting: int) -> None:
        """Any action on a trade (mostly one in a state that allows it), mostly by the party
        entitled to it."""
        self._act(pick, action, right_party, fitting)

    @precondition(lambda self: self.model.any_trade("proposed"))
    @rule(pick=PICK, right_party=st.integers(min_value=0, max_value=9))
    def accept_trade(self, pick: int, right_party: int) -> None:
        self._act(pick, "accept", right_party, fitting=1)

    @precondition(lambda self: self.model.any_trade("accepted"))
    @rule(pick=PICK)
    def record_trade(self, pick: int) -> None:
        self._act(pick, "record", 1, fitting=1)

    def _act(self, pick: int, action: str, right_party: int, fitting: int) -> None:
        m = self.model
        states = {"accept": ("proposed",), "decline": ("proposed",), "record": ("accepted",)}
        fit = [i for i, t in m.trades.items() if t.state in states.get(action, _OPEN)]
        ids = fit if fitting and fit else list(m.trades)
        trade_id = ids[pick % len(ids)]
        t = m.trades[trade_id]
        wrong = right_party == 0
        actor = {
            "accept": t.proposer if wrong else t.counterparty,
            "decline": t.proposer if wrong else t.counterparty,
            "rescind": t.counterparty if wrong else t.proposer,
        }.get(action, PROVINCE)
        target = {
            "accept": "accepted",
            "decline": "declined",
            "rescind": "rescinded",
            "record": "settled",
            "refuse": "refused",
            "expire": "expired",
        }[action]
        allowed = states.get(action, _OPEN)
        hold = t.hold or self._hold_lines(t)
        predicted: str | None = None
        if action == "expire":
            actor = "ledger"
            if t.expires_at is None or t.expires_at > self.clock.now:
                predicted = "trade_state_invalid"
        elif t.state == target and t.last_actor == actor:
            predicted = NOOP  # a retry of the action that led here
        if predicted is None and t.state not in allowed:
            predicted = "trade_state_invalid"
        if predicted is None and action in ("accept", "decline", "rescind") and wrong:
            predicted = "trade_party_invalid"
        if predicted is None and action == "accept":
            predicted = (
                ("vintage_expired" if m.expired.intersection(t.codes) else None)
                or m.can_give(t.seller, f"{t.seller}:holdings", t.codes, t.units)
                or ("city_may_not_receive" if not MAY_RECEIVE[CITY_OF[t.buyer]] else None)
                or m.refusal(hold, pending=True)
            )
        if predicted is None and action == "record":
            predicted = ("vintage_expired" if m.expired.intersection(t.codes) else None) or (
                m.refusal(hold, pending=False, released=hold)
            )
        predicted = predicted or OK

        def booked() -> None:
            previous = t.state
            t.state, t.last_actor = target, actor
            if action == "accept":
                t.hold = hold
                m.book(f"trade-{trade_id}-hold", hold, pending=True)
            elif action == "record":
                m.resolve(f"trade-{trade_id}-hold", f"trade-{trade_id}-settlement", "posted", hold)
            elif previous == "accepted":
                m.resolve(f"trade-{trade_id}-hold", f"trade-{trade_id}-release", "voided", ())

        # The party that acts, by its representative (the sweeper's lapse: by the province).
        by = of(self.store, PROVINCE if action == "expire" else actor)
        calls: dict[str, Callable[[], object]] = {
            "accept": lambda: trading.accept(self.store, by, trade_id),
            "decline": lambda: trading.decline(self.store, by, trade_id),
            "rescind": lambda: trading.rescind(self.store, by, trade_id),
            "record": lambda: trading.record(self.store, by, trade_id),
            "refuse": lambda: trading.refuse(self.store, by, trade_id, "refused"),
            "expire": lambda: trading.expire(self.store, by, trade_id),
        }
        self.attempt(f"trade {action} ({t.state})", predicted, calls[action], booked)

    def sweep_trades(self) -> None:
        """The sweeper expires every proposed or accepted trade past its deadline."""
        m = self.model
        due = sorted(
            trade_id
            for trade_id, t in m.trades.items()
            if t.state in ("proposed", "accepted")
            and t.expires_at is not None
            and t.expires_at <= self.clock.now
        )
        expired = sorted(trading.expire_due(self.store))
        assert expired == due
        for trade_id in due:
            t = m.trades[trade_id]
            if t.state == "accepted":
                m.resolve(f"trade-{trade_id}-hold", f"trade-{trade_id}-release", "voided", ())
            t.state, t.last_actor = "expired", "ledger"

    # -- pledges --

    @rule(party=PARTY, units=SO2_UNITS, first=st.sampled_from((2026, 2027)), span=st.integers(0, 1))
    def pledge(self, party: str, units: int, first: int, span: int) -> None:
        m = self.model
        record = Pledge(self.new_id("P"), party, "SO2", units, "BANK", first, first + span)
        codes = tuple(so2(v) for v in record.vintages)
        holdings, pledged = f"{party}:holdings", f"{party}:pledged"
        lines = tuple(line for c in codes for line in move(holdings, pledged, c, units))
        predicted = (
            ("vintage_expired" if m.expired.intersection(codes) else None)
            or m.can_give(party, holdings, codes, units)
            or m.refusal(lines, pending=False)
            or OK
        )

        def booked() -> None:
            m.instruments.update(codes)
            m.pledges[record.id] = ModelPledge(party, units, codes)
            m.book(f"pledge-{record.id}", lines)

        self.attempt(
            "pledge", predicted, lambda: rights.pledge(self.store, self.regulator, record), booked
        )

    @rule(pick=PICK, unknown=st.integers(min_value=0, max_value=9))
    def release_pledge(self, pick: int, unknown: int) -> None:
        m = self.model
        if not m.pledges and unknown:
            return
        if unknown == 0 or not m.pledges:
            self.attempt(
                "release unknown pledge",
                "record_not_found",
                lambda: rights.release_pledge(self.store, self.regulator, "P-none"),
                _nothing,
            )
            return
        pledge_id = list(m.pledges)[pick % len(m.pledges)]
        p = m.pledges[pledge_id]
        holdings, pledged = f"{p.party}:holdings", f"{p.party}:pledged"
        lines = tuple(line for c in p.codes for line in move(pledged, holdings, c, p.units))
        if p.released:  # a retry (no date) answers the released pledge and books nothing
            self.attempt(
                "release pledge again",
                OK,
                lambda: rights.release_pledge(self.store, self.regulator, pledge_id),
                _nothing,
            )
            return
        predicted = m.refusal(lines, pending=False)

        def booked() -> None:
            p.released = True
            m.book(f"pledge-{pledge_id}-release", lines)

        self.attempt(
            "release pledge",
            predicted or OK,
            lambda: rights.release_pledge(self.store, self.regulator, pledge_id),
            booked,
        )

    # -- compliance --

    @rule(
        party=PARTY,
        period=st.sampled_from((2025, 2026)),
        verified=st.integers(0, 6_000),
        due=st.booleans(),
    )
    def set_obligation(self, party: str, period: int, verified: int, due: bool) -> None:
        """An obligation whose deadline has passed (it may be closed) or is ahead."""
        m = self.model
        deadline = START.date() - timedelta(days=2) if due else date(period + 1, 6, 30)
        record = Obligation(self.new_id("O"), party, period, verified, deadline)

        def booked() -> None:
            m.obligations[record.id] = ModelObligation(party, period, verified, deadline)

        self.attempt(
            "obligation",
            OK if verified > 0 else "amount_not_positive",
            lambda: compliance.set_obligation(self.store, self.regulator, record),
            booked,
        )

    @precondition(lambda self: bool(self.model.obligations))
    @rule(
        pick=PICK,
        units=st.integers(min_value=0, max_value=3_000),
        named=st.sampled_from((None, None, "CEA-2025", "CEA-2026", "CCER")),
    )
    def surrender(self, pick: int, units: int, named: str | None) -> None:
        m = self.model
        obligation_id = list(m.obligations)[pick % len(m.obligations)]
        o = m.obligations[obligation_id]
        holdings = f"{o.party}:holdings"
        parts: list[tuple[str, int]] = []
        predicted: str | None = None
        if o.closed:
            predicted = "obligation_closed"
        elif units <= 0:
            predicted = "amount_not_positive"
        elif units > max(o.verified - o.surrendered, 0):
            predicted = "surrender_exceeds_obligation"
        elif named == "CCER":
            cap = o.verified * CCER_CAP_PERCENT // 100
            predicted = "ccer_cap_exceeded" if o.ccer + units > cap else None
            parts = [("CCER", units)]
        elif named is not None:
            predicted = self.named_vintage_refused(named, o.period)
            parts = [(named, units)]
        else:
            left = units
            eligible = sorted(
                code
                for (account, code) in m.counters
                if account == holdings
                and code.startswith("CEA-")
                and int(code[4:]) <= o.period
                and code not in m.expired
            )
            for code in eligible:
                take = min(max(m.available((holdings, code)), 0), left)
                if take:
                    parts.append((code, take))
                    left -= take
            predicted = "insufficient_balance" if left else None
        lines = tuple(
            line for code, u in parts for line in move(holdings, f"{o.party}:surrendered", code, u)
        )
        if predicted is None and any(code not in m.instruments for code, _ in parts):
            predicted = "unknown_instrument"  # a named vintage never issued
        if predicted is None:
            for code, u in parts:
                predicted = predicted or m.can_give(o.party, holdings, (code,), u)
            predicted = predicted or m.refusal(lines, pending=False) or OK
        request = compliance.SurrenderRequest(self.new_id("S"), obligation_id, units, named)

        def booked() -> None:
            o.surrendered += units
            if named == "CCER":
                o.ccer += units
            m.book(f"surrender-{request.id}", lines)

        self.attempt(
            f"surrender {named or 'oldest'}",
            predicted,
            lambda: compliance.surrender(self.store, of(self.store, o.party), request),
            booked,
        )

    def named_vintage_refused(self, named: str, period: int) -> str | None:
        """Why a named CEA vintage may not be surrendered: expired, or later than the period."""
        if named in self.model.expired:
            return "vintage_expired"
        return "vintage_after_compliance_year" if int(named[4:]) > period else None

    @precondition(lambda self: bool(self.model.obligations))
    @rule(pick=PICK, units=st.integers(min_value=1, max_value=1_500))
    def surrender_oldest(self, pick: int, units: int) -> None:
        self.surrender(pick=pick, units=units, named=None)

    @precondition(lambda self: bool(self.model.obligations))
    @rule(pick=PICK, average=st.integers(min_value=1_000, max_value=10_000))
    def close_deadline(self, pick: int, average: int) -> None:
        m = self.model
        obligation_id = list(m.obligations)[pick % len(m.obligations)]
        o = m.obligations[obligation_id]
        shortfall = max(o.verified - o.surrendered, 0)
        fen = PENALTY_MULTIPLIER * average * shortfall

        def booked() -> None:
            o.closed, o.deduction = True, shortfall
            if fen:
                lines = move(f"{o.party}:penalties", f"{PROVINCE}:revenue", CNY, fen)
                m.book(f"obligation-{obligation_id}-penalty", tuple(lines))

        passed = (self.clock.now + timedelta(hours=8)).date() > o.deadline  # Beijing's day
        self.attempt(
            "close deadline",
            "obligation_closed" if o.closed else OK if passed else "deadline_not_passed",
            lambda: self.close_by_two(obligation_id, average),
            booked,
        )

    def close_by_two(self, obligation_id: str, average: int) -> None:
        """Close as one regulator; a close with a shortfall (four-eyes by default) is applied
        when a second regulator, another person, approves it."""
        asked = compliance.close_deadline(self.store, self.regulator, obligation_id, average)
        if isinstance(asked, Pending):
            second = actor(self.store, Role.REGULATOR, PROVINCE, principal="regulator-2")
            approvals.approve(self.store, second, asked.request.id)

    # -- the journal's own moves on the registry's accounts --

    @rule(
        source=PARTY,
        offset=st.integers(min_value=1, max_value=3),
        rights=st.booleans(),
        pick=PICK,
        units=st.integers(min_value=1, max_value=20_000_000),
        pending=st.booleans(),
        expires=st.booleans(),
    )
    def transfer(
        self,
        *,
        source: str,
        offset: int,
        rights: bool,
        pick: int,
        units: int,
        pending: bool,
        expires: bool,
    ) -> None:
        """A transfer between two enterprises through the journal: rights between holdings or
        cash between cash accounts; posted, or held (with or without a deadline)."""
        m = self.model
        destination = ENTERPRISES[(ENTERPRISES.index(source) + offset) % len(ENTERPRISES)]
        held = sorted(i for i in m.instruments if i != CNY)
        if rights and held:
            instrument, suffix = held[pick % len(held)], "holdings"
            units = units % 50_000 + 1
        else:
            instrument, suffix = CNY, "cash"
        lines = tuple(move(f"{source}:{suffix}", f"{destination}:{suffix}", instrument, units))
        expires_at = self.clock.now + timedelta(minutes=30) if pending and expires else None
        command = journal.PostEntry(
            self.new_id("x"), "transfer", requests(lines), pending=pending, expires_at=expires_at
        )

        def booked() -> None:
            m.book(command.entry_id, lines, pending=pending, expires_at=expires_at)
            if pending:
                m.holds.append(command.entry_id)

        self.attempt(
            "hold" if pending else "transfer",
            m.refusal(lines, pending=pending) or OK,
            lambda: journal.post_entry(self.store, command),
            booked,
        )

    @precondition(lambda self: bool(self.model.holds))
    @rule(
        pick=PICK,
        how=st.sampled_from(("full", "partial", "partial", "exceed", "void")),
        permille=st.integers(min_value=1, max_value=1000),
    )
    def resolve_hold(self, pick: int, how: str, permille: int) -> None:
        m = self.model
        hold_id = m.holds[pick % len(m.holds)]
        hold = m.entries[hold_id]
        entry_id = self.new_id("r")
        lines = hold.lines
        requested = None
        predicted: str | None = None
        if how in ("partial", "exceed"):
            units = lines[0][3]
            take = units + 1 if how == "exceed" else max(1, units * permille // 1000)
            lines = tuple((a, i, s, take) for a, i, s, _ in lines)
            requested = requests(lines)
            predicted = "post_exceeds_pending" if how == "exceed" else None
        if predicted is None and hold.resolution is not None:
            predicted = f"pending_entry_already_{hold.resolution}"
            if hold.resolution == "expired":
                predicted = "pending_entry_expired"
        if predicted is None and hold.expires_at is not None and hold.expires_at <= self.clock.now:
            predicted = "pending_entry_expired"
        command = journal.ResolvePending(hold_id, entry_id, requested)
        if how == "void":
            self.attempt(
                "void hold",
                predicted or OK,
                lambda: journal.void_pending_entry(self.store, command),
                lambda: m.resolve(hold_id, entry_id, "voided", ()),
            )
            return
        predicted = predicted or m.refusal(lines, pending=False, released=hold.lines) or OK
        self.attempt(
            f"post hold ({how})",
            predicted,
            lambda: journal.post_pending_entry(self.store, command),
            lambda: m.resolve(hold_id, entry_id, "posted", lines),
        )

    @precondition(lambda self: bool(self.model.holds))
    @rule(pick=PICK, permille=st.integers(min_value=1, max_value=1000))
    def post_hold_in_part(self, pick: int, permille: int) -> None:
        self.resolve_hold(pick=pick, how="partial", permille=permille)

    @rule(
        minutes=st.sampled_from((0, 10, 25, 40, 70)),
        sweep=st.sampled_from(("trades", "holds", "both", "none")),
        expiry=st.integers(min_value=0, max_value=7),
        vintage=st.sampled_from((2026, 2027)),
    )
    def time_passes(self, minutes: int, sweep: str, expiry: int, vintage: int) -> None:
        """The clock moves; the sweeper expires trades and holds past their deadline; now and
        then a vintage is expired."""
        self.clock.advance(timedelta(minutes=minutes))
        if sweep in ("trades", "both"):
            self.sweep_trades()
        if sweep in ("holds", "both"):
            self.sweep_holds()
        if expiry == 0:
            self.expire_vintage(vintage)

    def sweep_holds(self) -> None:
        """Expire every hold placed through the journal whose deadline has passed."""
        m = self.model
        due = [
            hold_id
            for hold_id in m.holds
            if m.entries[hold_id].resolution is None
            and (deadline := m.entries[hold_id].expires_at) is not None
            and deadline <= self.clock.now
        ]
        journal.expire_pending_entries(self.store)
        for hold_id in due:
            m.resolve(hold_id, "", "expired", ())

    @precondition(lambda self: bool(self.model.entries))
    @rule(pick=PICK, recent=st.booleans())
    def reverse(self, pick: int, recent: bool) -> None:
        """Reverse any entry (or one of the last few): posted ones once; pending, voided and
        expired ones never."""
        m = self.model
        ids = list(m.entries)[-4:] if recent else list(m.entries)
        original_id = ids[pick % len(ids)]
        original = m.entries[original_id]
        swapped = tuple((a, i, s.opposite, u) for a, i, s, u in original.lines)
        if original.status != "posted":
            predicted = "entry_not_reversible"
        elif original.reversed:
            predicted = "entry_already_reversed"
        else:
            predicted = m.refusal(swapped, pending=False) or OK
        command = journal.ReverseEntry(original_id, self.new_id("rev"))

        def booked() -> None:
            original.reversed = True
            m.book(command.entry_id, swapped)

        self.attempt(
            f"reverse {original.status}",
            predicted,
            lambda: journal.reverse_entry(self.store, command),
            booked,
        )

    @rule(party=PARTY, frozen=st.booleans(), suffix=st.sampled_from(("holdings", "cash")))
    def freeze(self, party: str, frozen: bool, suffix: str) -> None:
        code = f"{party}:{suffix}"
        (registry.freeze_account if frozen else registry.unfreeze_account)(
            self.store, actor(self.store), code
        )
        (self.model.frozen.add if frozen else self.model.frozen.discard)(code)

    def expire_vintage(self, vintage: int) -> None:
        """Retire every unit of an SO2 vintage still held."""
        m = self.model
        code = so2(vintage)
        holders = sorted(
            account
            for (account, instrument) in m.counters
            if instrument == code
            and account.rsplit(":", 1)[1] in EXPIRING
            and m.posted((account, instrument)) > 0
        )
        lines = tuple(
            line
            for account in holders
            for line in move(account, f"{PROVINCE}:retirement", code, m.posted((account, code)))
        )
        if code not in m.instruments:
            predicted = "invalid_field"
        else:
            predicted = m.refusal(lines, pending=False) or OK

        def booked() -> None:
            m.expired.add(code)
            if lines:  # numbered on from earlier expiries of the vintage
                n = sum(entry_id.startswith(f"expiry-{code}-") for entry_id in m.entries)
                m.book(f"expiry-{code}-{n}", lines)

        self.attempt(
            "expire vintage",
            predicted,
            lambda: rights.expire_vintage(self.store, self.regulator, "SO2", vintage),
            booked,
        )

    # -- after every step --

    @invariant()
    def balances_equal_the_model(self) -> None:
        assert ledger_balances(self.store) == self.model.balances()

    @invariant()
    def chain_and_invariants_verify(self) -> None:
        chain.seal_all(self.store)
        report = chain.verify(self.store)
        assert report.ok, report

    @invariant()
    def nothing_non_negative_is_negative_and_supply_is_conserved(self) -> None:
        balances = ledger_balances(self.store)
        supply: dict[str, int] = {}
        for (account, instrument), (dp, cp, dpend, cpend) in balances.items():
            side, non_negative = self.model.chart[account]
            posted = dp - cp if side is DEBIT else cp - dp
            available = posted - (cpend if side is DEBIT else dpend)
            if non_negative:
                assert posted >= 0 and available >= 0, (account, instrument, posted, available)
            if instrument == CNY:
                continue
            suffix = account.rsplit(":", 1)[1]
            sign = {"issuance": 1, **dict.fromkeys(GONE, -1), **dict.fromkeys(HELD, -1)}
            supply[instrument] = supply.get(instrument, 0) + sign.get(suffix, 0) * posted
        # issued − cancelled − retired − held = 0
        assert all(net == 0 for net in supply.values()), supply


_OPEN = ("proposed", "accepted")


def _nothing() -> None:
    return None


@pytest.mark.parametrize("backend", BACKENDS)
def test_any_sequence_of_registry_and_journal_moves_keeps_every_invariant(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    databases = Databases(backend, request, tmp_path)
    try:

        class OnThisBackend(LedgerMachine):
            def __init__(self) -> None:
                super().__init__(databases)

        run_state_machine_as_test(
            OnThisBackend,
            settings=settings(STATEFUL_SETTINGS, max_examples=EXAMPLES[backend]),
        )
    finally:
        databases.close()
    if os.environ.get("LEDGER_STATEFUL_REPORT"):
        for outcome, count in sorted(OUTCOMES.items()):
            print(f"{backend} {count:6} {outcome}")

"""The approvals queue in human terms: what a pending four-eyes request will do, for whom, and
how much in its unit, read from the command its use case stored (`authority.gate`).

Each operation of `ledger.services.approvals.EXECUTORS` has a describer here: the request's
payload (a command as `ledger.domain.payloads.to_payload` wrote it) becomes a sentence in the
reader's language, the party or principal it is for, and its amounts through the console's own
formatting (t to the kg, tCO2 whole, CNY to the fen through py-moneyed). Nothing here decides
anything: an approver still approves the stored payload, which the page keeps beside the
sentence, folded. A payload a describer cannot read (an operation added later, an older shape)
is shown by its operation's name and the raw payload, never as an error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from api.console import i18n
from api.console.i18n import N_
from ledger.domain.access import ApprovalRequest
from ledger.domain.registry import scale_of, trade_value_fen

Payload = Mapping[str, Any]
ACQUISITIONS = (N_("free"), N_("paid"))  # how allocated rights were acquired, shown translated


@dataclass(frozen=True, slots=True)
class Shown:
    """One request as the approvals page shows it."""

    request: ApprovalRequest
    what: str  # a sentence in the reader's language
    whom: str  # the party or principal it is for ("" when it is for no one in particular)
    amounts: tuple[str, ...]  # each in its unit, formatted for the reader
    notes: tuple[str, ...]  # reason, memo, business date: what the initiator wrote
    raw: tuple[tuple[str, str], ...]  # the stored payload, field by field


@dataclass(frozen=True, slots=True)
class Words:
    """The reader's language: its messages and its way of writing amounts."""

    language: str

    def __call__(self, message: str, **values: object) -> str:
        text = i18n.gettext_of(self.language)(message)
        return text % values if values else text

    def rights(self, units: object, family: str, per_year: bool = True) -> str:
        """Rights in units of their scale: t to the kg (per year of each vintage), or tCO2."""
        scale = scale_of(family)
        tonnes = Decimal(int(str(units))).scaleb(-scale)
        unit = ("t/a" if per_year else "t") if scale else "tCO2"
        return f"{i18n.amount(tonnes, self.language, scale)} {unit}"

    def fen(self, fen: object) -> str:
        return i18n.money(Decimal(int(str(fen))).scaleb(-2), self.language)

    def instrument_amount(self, instrument: str, text: object) -> str:
        """An amount of an instrument as a posting carries it (decimal text in its unit)."""
        value = Decimal(str(text))
        if instrument == "CNY":
            return i18n.money(value.quantize(Decimal("0.01")), self.language)
        scale = scale_of(instrument.rsplit("-", 1)[0])
        unit = "t" if scale else "tCO2"
        return f"{i18n.amount(value, self.language, scale)} {unit} {instrument}"


Described = tuple[str, str, tuple[str, ...], tuple[str, ...]]  # what, whom, amounts, notes
Describer = Callable[[Payload, Words], Described]


def describe(request: ApprovalRequest, language: str) -> Shown:
    """The request in the reader's language (its operation's name when it cannot be read)."""
    words = Words(language)
    describer = DESCRIBERS.get(request.operation)
    raw = tuple((str(key), _text(value)) for key, value in request.payload.items())
    try:
        if describer is None:
            raise KeyError(request.operation)
        what, whom, amounts, notes = describer(request.payload, words)
    except (KeyError, TypeError, ValueError, InvalidOperation, AttributeError):
        what, whom, amounts, notes = words(request.operation), "", (), ()
    return Shown(request, what, whom, amounts, notes, raw)


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _dated(payload: Payload, words: Words) -> tuple[str, ...]:
    day = payload.get("business_date")
    return (words(N_("Business date: %(day)s"), day=day),) if day else ()


def _allocation(payload: Payload, words: Words) -> Described:
    what = words(
        N_("Allocate %(pollutant)s rights for vintages %(first)s–%(last)s (allocation %(id)s)"),
        pollutant=payload["pollutant"],
        first=payload["first_vintage"],
        last=payload["last_vintage"],
        id=payload["id"],
    )
    notes = (words(payload.get("acquisition") or "free"), *_dated(payload, words))
    amounts = (words.rights(payload["units"], payload["pollutant"]),)
    return what, payload["party_code"], amounts, notes


def _reserve(payload: Payload, words: Words) -> Described:
    values = {
        "pollutant": payload["pollutant"],
        "first": payload["first_vintage"],
        "last": payload["last_vintage"],
        "id": payload["id"],
        "authority": payload["authority"],
    }
    if payload["action"] == "confiscation":
        message = N_(
            "Confiscate %(pollutant)s rights of vintages %(first)s–%(last)s and cancel them "
            "(decision %(id)s of %(authority)s)"
        )
        whom = payload.get("party") or payload["authority"]
    else:
        message = N_(
            "Cancel %(pollutant)s rights of vintages %(first)s–%(last)s from the reserve of "
            "%(authority)s (decision %(id)s)"
        )
        whom = payload["authority"]
    amounts = (words.rights(payload["units"], payload["pollutant"]),)
    return words(message, **values), whom, amounts, _dated(payload, words)


def _buy_back(payload: Payload, words: Words) -> Described:
    """Rights into the reserve, paid from the authority's budget: the price and the sum paid
    are what the approver weighs."""
    what = words(
        N_(
            "Buy back %(pollutant)s rights of vintages %(first)s–%(last)s into the reserve of "
            "%(authority)s, paid from its budget (decision %(id)s)"
        ),
        pollutant=payload["pollutant"],
        first=payload["first_vintage"],
        last=payload["last_vintage"],
        id=payload["id"],
        authority=payload["authority"],
    )
    price = int(payload["price_fen"])
    paid = trade_value_fen(price, int(payload["units"]), scale_of(payload["pollutant"]))
    amounts = (
        words.rights(payload["units"], payload["pollutant"]),
        words(N_("%(price)s per t"), price=words.fen(price)),
        words(N_("%(paid)s paid from the budget"), paid=words.fen(paid)),
    )
    entitlement = payload.get("entitlement")
    named = (words(N_("Entitlement %(id)s"), id=entitlement),) if entitlement else ()
    return what, payload["party"], amounts, (*named, *_dated(payload, words))


def _reversal(payload: Payload, words: Words) -> Described:
    what = words(
        N_("Reverse entry %(original)s with entry %(entry)s"),
        original=payload["original_entry_id"],
        entry=payload["entry_id"],
    )
    memo = payload.get("memo") or ""
    return what, "", (), (memo,) if memo else ()


def _adjustment(payload: Payload, words: Words) -> Described:
    entries = list(payload["entries"])
    ids = ", ".join(str(entry["entry_id"]) for entry in entries)
    what = words(N_("Post the adjustment %(entries)s"), entries=ids)
    parties: list[str] = []
    amounts = []
    for entry in entries:
        for posting in entry["postings"]:
            account = str(posting["account_code"])
            party = account.split(":", 1)[0]
            if party not in parties:
                parties.append(party)
            side = words(str(posting["side"]))
            value = words.instrument_amount(str(posting["instrument_code"]), posting["amount"])
            amounts.append(f"{account} {side} {value}")
    memos = tuple(str(entry["memo"]) for entry in entries if entry.get("memo"))
    return what, ", ".join(parties), tuple(amounts), memos


def _reopen(payload: Payload, words: Words) -> Described:
    what = words(N_("Reopen the closed period %(period)s"), period=payload["period"])
    return what, "", (), (words(N_("Reason: %(reason)s"), reason=payload["reason"]),)


def _enrolment(payload: Payload, words: Words) -> Described:
    what = words(N_("Issue an enrolment code to principal %(id)s"), id=payload["principal"])
    return what, str(payload["principal"]), (), ()


def _penalty(payload: Payload, words: Words) -> Described:
    what = words(
        N_("Book a rights penalty for %(pollutant)s found in report %(report)s (penalty %(id)s)"),
        pollutant=payload["pollutant"],
        report=payload["report_id"],
        id=payload["id"],
    )
    note = payload.get("note") or ""
    notes = ((note,) if note else ()) + _dated(payload, words)
    return what, payload["party_code"], (words.fen(payload["amount_fen"]),), notes


def _obligation_close(payload: Payload, words: Words) -> Described:
    what = words(
        N_(
            "Close carbon obligation %(obligation)s with a shortfall: book its penalty at the "
            "stated average price"
        ),
        obligation=payload["obligation"],
    )
    amounts = (
        words(
            N_("Shortfall: %(shortfall)s"),
            shortfall=words.rights(payload["shortfall_units"], "CEA"),
        ),
        words(
            N_("Average price: %(price)s per tCO2"), price=words.fen(payload["average_price_fen"])
        ),
        words(N_("Penalty: %(penalty)s"), penalty=words.fen(payload["penalty_fen"])),
    )
    return what, payload["party_code"], amounts, ()


def _tax_table(payload: Payload, words: Words) -> Described:
    values = {"id": payload["id"], "day": payload["valid_from"]}
    kind = payload["kind"]
    if kind == "rate":
        what = words(
            N_(
                "Set the tax rate of %(category)s in tier %(tier)s of scheme %(scheme)s from "
                "%(day)s (entry %(id)s)"
            ),
            category=payload["category"],
            tier=payload["tier"],
            scheme=payload["scheme"],
            **values,
        )
        rate = i18n.money(Decimal(payload["cny_per_equivalent"]), words.language)
        return what, "", (words(N_("%(amount)s per pollution equivalent"), amount=rate),), ()
    if kind == "equivalent":
        what = words(
            N_("Set the pollution equivalent of %(pollutant)s from %(day)s (entry %(id)s)"),
            pollutant=payload["pollutant"],
            **values,
        )
        kg = i18n.amount(Decimal(payload["kg_per_equivalent"]), words.language)
        return what, "", (words(N_("%(kg)s kg per pollution equivalent"), kg=kg),), ()
    place = " · ".join(p for p in (payload["city"], payload["county"]) if p)
    what = words(
        N_("Place %(place)s in tier %(tier)s of scheme %(scheme)s from %(day)s (entry %(id)s)"),
        place=place,
        tier=payload["tier"],
        scheme=payload["scheme"],
        **values,
    )
    return what, place, (), ()


def _permit(payload: Payload, words: Words) -> Described:
    what = words(
        N_(
            "Set the permit of outlet %(outlet)s from %(month)s: it relaxes a standard or a "
            "removal efficiency"
        ),
        outlet=payload["outlet"],
        month=str(payload["effective_from"])[:7],
    )
    amounts = [
        f"{pollutant} ≤ {i18n.amount(Decimal(str(limit)), words.language)} mg/Nm³"
        for pollutant, limit in sorted(payload.get("standards", {}).items())
    ]
    amounts += [
        words(
            N_("%(pollutant)s removed: %(percent)s %%"),
            pollutant=pollutant,
            percent=i18n.amount((Decimal(str(share)) * 100).normalize(), words.language),
        )
        for pollutant, share in sorted(payload.get("removal_efficiencies", {}).items())
    ]
    reference = payload.get("reference") or ""
    notes = (words(N_("Permit %(reference)s"), reference=reference),) if reference else ()
    return what, payload["party"], tuple(amounts), notes


def _tax_incentive(payload: Payload, words: Words) -> Described:
    """What books the province's tax expenditure on one regulator's figures: the figures are
    what the approver weighs."""
    kind = payload["incentive"]
    notes = tuple(
        words(N_("Description: %(text)s"), text=d) for d in [payload.get("description")] if d
    )
    if kind == "equipment_credit":
        what = words(
            N_("Grant the CIT credit of 10 %% on equipment %(id)s acquired on %(day)s"),
            id=payload["id"],
            day=payload["acquired_on"],
        )
        amounts = (words(N_("Investment %(cny)s"), cny=words.fen(payload["investment_fen"])),)
        return what, payload["party"], amounts, notes
    if kind == "retrofit_project":
        what = words(
            N_("Register retrofit project %(id)s, its income exempt from %(year)s"),
            id=payload["id"],
            year=payload["first_revenue_year"],
        )
        return what, payload["party"], (), notes
    if kind == "incentive":
        what = words(
            N_("Book incentive %(id)s on basis %(basis)s"),
            id=payload["id"],
            basis=payload["basis_id"],
        )
        return what, "", (words.fen(payload["amount_fen"]),), ()
    if kind == "project_year":
        what = words(
            N_("Book the %(year)s income of retrofit project %(id)s and its CIT exemption"),
            year=payload["year"],
            id=payload["project_id"],
        )
        amounts = (words(N_("Income %(cny)s"), cny=words.fen(payload["income_fen"])),)
        return what, "", amounts, _dated(payload, words)
    what = words(N_("Book tax year %(year)s of the equipment credits"), year=payload["year"])
    amounts = (words(N_("CIT payable %(cny)s"), cny=words.fen(payload["cit_payable_fen"])),)
    return what, payload["party"], amounts, _dated(payload, words)


DESCRIBERS: dict[str, Describer] = {
    "allocation": _allocation,
    "buy_back": _buy_back,
    "confiscation": _reserve,
    "cancellation": _reserve,
    "reversal": _reversal,
    "adjustment": _adjustment,
    "period_reopen": _reopen,
    "enrolment": _enrolment,
    "penalty": _penalty,
    "obligation_close": _obligation_close,
    "tax_table": _tax_table,
    "permit": _permit,
    "tax_incentive": _tax_incentive,
}

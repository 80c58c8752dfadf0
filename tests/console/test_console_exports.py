"""Downloads run as jobs: a statement or the trial balance is written in the background while its
page (refreshing itself, no JavaScript) shows rows written out of the report's rows; when it ends
the page offers the file, to the principal that started it only, for an hour. The bytes are the
API's for the same report (the same use case and the same writers)."""

from __future__ import annotations

import io
import re
import threading
import time
from datetime import timedelta
from typing import IO

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from api.console import jobs, pages_jobs
from api.console.jobs import Job
from ledger.domain.access import Role
from ledger.domain.jobs import KEPT
from ledger.persistence import tables as t
from ledger.services import jobs as shared_jobs
from ledger.services import rights
from tests.console.conftest import SignedIn, console_of, sign_in
from tests.factories import actor, token_for
from tests.integration.registry_support import of

SECOND = timedelta(seconds=1)
STATEMENT = {"account": "cash", "instrument": "CNY", "from": "2025-01-01", "to": "2030-12-31"}


def jobs_in(app: FastAPI) -> int:
    """How many jobs the database holds (every worker's)."""
    with app.state.store.engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(t.console_jobs)).scalar_one()
        )


def until_done(client: TestClient, location: str) -> str:
    """The job's page once the work has ended (it refreshes itself until then)."""
    for _ in range(400):
        page = client.get(location).text
        if 'http-equiv="refresh"' not in page:
            return page
        time.sleep(0.025)
    raise AssertionError("the job did not end")


def started(client: TestClient, path: str, form: dict[str, str]) -> str:
    answer = client.post(path, data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert re.fullmatch(r"/console/jobs/[A-Za-z0-9_-]+", location), location
    return location


@pytest.fixture
def deposits(app: FastAPI) -> FastAPI:
    """E1's cash: its opening deposit and three more (five statement rows with the opening)."""
    store = app.state.store
    for number in range(3):
        rights.deposit_cash(store, of(store, "HEBEI"), f"E1-more-{number}", "E1", 10_000 + number)
    return app


def test_a_statement_is_exported_by_a_job_and_offered_to_its_principal_alone(
    deposits: FastAPI, signed_in: SignedIn, tokens: dict[Role, str]
) -> None:
    client, csrf = signed_in(Role.ENTERPRISE)
    client.cookies.set("ledger_language", "en", path="/console")
    location = started(client, "/console/exports/statement", {"csrf": csrf, **STATEMENT})
    page = until_done(client, location)
    name = "statement-E1-cash-CNY-2025-01-01-2030-12-31.csv"
    assert f"Export of {name}" in page and "Ready: 5 rows." in page
    assert "5 / 5 (100 %)" in page and f'href="{location}/file"' in page
    file = client.get(f"{location}/file")
    api = client.get(
        "/v1/finance/parties/E1/statement",
        params={**STATEMENT, "format": "csv"},
        headers={"authorization": f"Bearer {tokens[Role.ENTERPRISE]}"},
    )
    assert file.status_code == 200 and file.content == api.content  # the API's bytes
    assert file.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert file.headers["content-type"].startswith("text/csv")
    other, _ = signed_in(Role.REGULATOR)  # a principal that may read E1's statement, too
    assert other.get(location).status_code == 404
    assert other.get(f"{location}/file").status_code == 404


def test_an_xlsx_statement_is_a_workbook_of_the_same_rows(
    deposits: FastAPI, signed_in: SignedIn
) -> None:
    client, csrf = signed_in(Role.REGULATOR)
    form = {"csrf": csrf, **STATEMENT, "party": "E1", "format": "xlsx"}
    location = started(client, "/console/exports/statement", form)
    assert "已完成：共 5 行。" in until_done(client, location)  # Chinese: the default
    workbook = load_workbook(io.BytesIO(client.get(f"{location}/file").content), read_only=True)
    rows = list(workbook.active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert rows[0][:3] == ("effective_at", "recorded_at", "entry_id")
    assert len(rows) == 1 + 5 + 1 and rows[1][2] == "opening balance" and rows[-1][0] == "total"


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_trial_balance_is_exported_as_the_api_answers_it(
    app: FastAPI, signed_in: SignedIn, tokens: dict[Role, str], language: str
) -> None:
    client, csrf = signed_in(Role.FINANCE)
    client.cookies.set("ledger_language", language, path="/console")
    form = {"csrf": csrf, "instrument": "CNY", "as_of": "", "format": "csv"}
    page = until_done(client, started(client, "/console/exports/trial-balance", form))
    api = client.get(
        "/v1/finance/trial-balance",
        params={"instrument": "CNY", "format": "csv"},
        headers={"authorization": f"Bearer {tokens[Role.FINANCE]}"},
    )
    rows = api.text.count("\n") - 2  # less the header and the total
    said = f"Ready: {rows} rows." if language == "en" else f"已完成：共 {rows} 行。"
    assert said in page and f"{rows} / {rows}" in page
    link = re.search(r'href="(/console/jobs/[^"]+/file)"', page)
    assert link is not None and client.get(link.group(1)).content == api.content


def test_a_refused_export_says_why_and_a_bad_form_starts_none(
    app: FastAPI, signed_in: SignedIn
) -> None:
    city, csrf = signed_in(Role.CITY_AUTHORITY)  # Tangshan: E1 and E2, not E3 (Xingtai)
    city.cookies.set("ledger_language", "en", path="/console")
    form = {"csrf": csrf, **STATEMENT, "party": "E3"}
    page = until_done(city, started(city, "/console/exports/statement", form))
    assert "Refused: nothing was exported." in page and "party_not_found" in page
    assert "/file" not in page
    bad = city.post("/console/exports/statement", data={**form, "party": "E1", "to": "soon"})
    assert bad.url.path == "/console/holdings" and "Refused: invalid_field: to" in bad.text
    assert jobs_in(app) == 1


def test_a_running_job_shows_rows_done_out_of_its_total(app: FastAPI) -> None:
    store = app.state.store
    enterprise = actor(store, Role.ENTERPRISE, "E1")
    release = threading.Event()

    def work(job: Job) -> tuple[bool, str]:
        job.total = 10
        job.report(3)
        release.wait(10)
        job.report(10)
        return False, "done"

    job = console_of(app).jobs.start(enterprise.id, "slow.csv", None, work, kind="export")
    with TestClient(app) as client:
        client.cookies.set("ledger_language", "en", path="/console")
        sign_in(client, token_for(store, enterprise))
        for _ in range(200):
            if job.done == 3:
                break
            time.sleep(0.01)
        running = client.get(f"/console/jobs/{job.id}").text
        early = client.get(f"/console/jobs/{job.id}/file")
        release.set()
        finished = until_done(client, f"/console/jobs/{job.id}")
    assert 'http-equiv="refresh"' in running and "3 / 10 (30 %)" in running
    assert 'value="30"' in running and "Rows written" in running
    assert early.status_code == 409 and "job_running" in early.text
    assert "10 / 10 (100 %)" in finished


def test_an_export_spills_to_disk_is_stored_in_chunks_and_forgotten_an_hour_after_it_ends(
    deposits: FastAPI, signed_in: SignedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "SPOOL_BYTES", 64)  # any statement is larger: kept on disk
    monkeypatch.setattr(shared_jobs, "CHUNK_BYTES", 100)  # stored (and read back) in pieces
    spooled: list[IO[bytes]] = []

    def recorded() -> IO[bytes]:
        spooled.append(jobs.spool())
        return spooled[-1]

    monkeypatch.setattr(pages_jobs, "spool", recorded)
    client, csrf = signed_in(Role.ENTERPRISE)
    location = started(client, "/console/exports/statement", {"csrf": csrf, **STATEMENT})
    until_done(client, location)
    assert spooled[0]._rolled and spooled[0].closed  # type: ignore[attr-defined]
    whole = client.get(f"{location}/file")
    store = deposits.state.store
    with store.engine.connect() as connection:
        chunks = connection.execute(select(func.count()).select_from(t.console_job_chunks))
        assert chunks.scalar_one() == -(-len(whole.content) // 100) > 1
        connection.execute(update(t.console_jobs).values(ended_at=store.clock() - KEPT - SECOND))
        connection.commit()
    assert whole.status_code == 200 and len(whole.content) > 64
    assert whole.headers["content-length"] == str(len(whole.content))
    assert client.get(location).status_code == 404
    assert client.get(f"{location}/file").status_code == 404
    assert shared_jobs.forget_ended(store) == 1 and jobs_in(deposits) == 0


def test_a_principal_runs_at_most_two_jobs_at_once(app: FastAPI) -> None:
    store = app.state.store
    finance = actor(store, Role.FINANCE)
    release = threading.Event()

    def work(job: Job) -> tuple[bool, str]:
        release.wait(10)
        return False, "done"

    running = [console_of(app).jobs.start(finance.id, f"slow-{n}.csv", 1, work) for n in range(2)]
    with TestClient(app) as client:
        client.cookies.set("ledger_language", "en", path="/console")
        csrf = sign_in(client, token_for(store, finance))
        form = {"csrf": csrf, "instrument": "CNY", "as_of": "", "format": "csv"}
        refused = client.post("/console/exports/trial-balance", data=form)
        assert refused.url.path == "/console/trial-balance"
        assert "You already run 2 imports or exports" in refused.text
        assert jobs_in(app) == 2  # the third started nothing
        release.set()
        for job in running:
            until_done(client, f"/console/jobs/{job.id}")
        until_done(client, started(client, "/console/exports/trial-balance", form))

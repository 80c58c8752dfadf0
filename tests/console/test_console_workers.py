"""The console behind several workers: `emissions-ledger serve --workers 2` hands each request
to either process, with no stickiness. Two applications over one database stand for the two
workers; one browser (one cookie jar) is served by whichever the test names. On SQLite and
PostgreSQL. Also: what the database keeps of a session (no secret), the sessions' idle expiry
and its sweeping, the messages' cookie, and the console's jobs: run by one worker, followed and
downloaded on either, their running limit counted over both."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from api import auth
from api.app import create_app
from api.console.jobs import Busy, Job, Jobs
from api.console.sessions import SESSION_COOKIE, open_flashes, seal_flashes
from ledger.domain.access import Role
from ledger.domain.jobs import SILENT_MAX, WORKER_LOST, StoredJob
from ledger.domain.sessions import session_hash
from ledger.persistence import tables as t
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services import access, sessions
from ledger.settings import Settings
from tests.console.conftest import console_of, csrf_in
from tests.factories import NO_FOUR_EYES, actor, token_for
from tests.integration.registry_support import build_registry


class Workers:
    """One ASGI application that hands each request to the worker `serving` names."""

    def __init__(self, *apps: FastAPI) -> None:
        self.apps = apps
        self.serving = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.apps[self.serving](scope, receive, send)

    def get(self, browser: TestClient, url: str) -> Any:
        """The page at `url`, as the serving worker answers it (no redirect followed)."""
        return browser.get(url, follow_redirects=False)


@pytest.fixture
def workers(database_url: str) -> Iterator[tuple[Workers, Store]]:
    """Two applications, each with a store of its own (as two processes), over one database."""
    stores = [
        Store(
            create_ledger_engine(database_url, sqlite_synchronous="NORMAL"), four_eyes=NO_FOUR_EYES
        )
        for _ in range(2)
    ]
    settings = Settings(database_url=database_url, four_eyes=frozenset())
    apps = [create_app(settings, store=store) for store in stores]
    yield Workers(*apps), stores[0]
    for app in apps:
        console_of(app).jobs.close()  # its progress writer
    for store in stores:
        store.dispose()


def _on(workers: Workers, worker: int) -> Workers:
    workers.serving = worker
    return workers


def _sign_in(browser: TestClient, workers: Workers, token: str, worker: int = 0) -> str:
    """Sign in on `worker` (English pages); the session's id (the cookie)."""
    _on(workers, worker)
    browser.get("/console/language/en", params={"next": "/console/sign-in"})
    page = browser.get("/console/sign-in")
    answer = browser.post(
        "/console/sign-in",
        data={"csrf": csrf_in(page.text), "token": token, "next": "/console/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return answer.cookies[SESSION_COOKIE]


def test_one_browser_is_served_by_either_worker_until_it_signs_out(
    workers: tuple[Workers, Store],
) -> None:
    balancer, store = workers
    token = token_for(store, actor(store, Role.ADMINISTRATOR))
    with TestClient(balancer) as browser:
        session_id = _sign_in(browser, balancer, token, worker=0)
        first = _on(balancer, 0).get(browser, "/console/")
        second = _on(balancer, 1).get(browser, "/console/")
        assert first.status_code == second.status_code == 200
        assert "administrator-all" in second.text
        csrf = csrf_in(first.text)
        assert csrf_in(second.text) == csrf  # derived from the session: the same everywhere

        # A form sent to one worker, its message shown by the other, once.
        _on(balancer, 1)
        created = browser.post(
            "/console/principals",
            data={"csrf": csrf, "id": "clerk", "name": "Clerk", "role": "finance"},
            follow_redirects=False,
        )
        assert created.status_code == 303, created.text
        _on(balancer, 0)
        shown = unescape(browser.get(created.headers["location"]).text)
        assert "Principal clerk created." in shown
        _on(balancer, 1)
        assert "Principal clerk created." not in unescape(browser.get("/console/principals").text)

        out = browser.post("/console/sign-out", data={"csrf": csrf}, follow_redirects=False)
        assert out.status_code == 303
    for worker in (0, 1):  # the cookie kept from before signing out opens nothing, anywhere
        with TestClient(_on(balancer, worker)) as replay:
            replay.cookies.set(SESSION_COOKIE, session_id, path="/console")
            assert replay.get("/console/", follow_redirects=False).status_code == 303


def test_a_deactivated_principal_is_signed_out_on_every_worker(
    workers: tuple[Workers, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another worker's token cache holds no verdict longer than its second (none here)."""
    monkeypatch.setattr(auth, "TOKEN_CACHE_SECONDS", 0.0)
    balancer, store = workers
    token = token_for(store, actor(store, Role.VERIFIER))
    administrator = actor(store, Role.ADMINISTRATOR)
    with TestClient(balancer) as browser:
        _sign_in(browser, balancer, token, worker=0)
        assert _on(balancer, 1).get(browser, "/console/").status_code == 200
        access.deactivate(store, administrator, "verifier-all")
        for worker in (1, 0):
            _on(balancer, worker)
            assert browser.get("/console/", follow_redirects=False).status_code == 303
    with store() as uow:
        assert uow.sessions.remove_idle(uow.now() + timedelta(days=1)) == 0  # it was deleted


def test_the_database_holds_no_session_id_and_no_token_secret(
    workers: tuple[Workers, Store],
) -> None:
    balancer, store = workers
    token = token_for(store, actor(store, Role.FINANCE))
    with TestClient(balancer) as browser:
        session_id = _sign_in(browser, balancer, token)
        csrf = csrf_in(browser.get("/console/").text)
    secret = token.split("_", 2)[2]
    with store.engine.connect() as connection:
        stored = " ".join(
            str(value)
            for table in t.metadata.sorted_tables
            for row in connection.execute(select(table))
            for value in row
        )
        kept = connection.execute(select(t.console_sessions)).one()
    for clear in (session_id, token, secret, csrf):
        assert clear not in stored
    assert kept.id_hash == session_hash(session_id)
    assert kept.token_id == token.split("_")[1]


def test_a_token_id_is_no_bearer_token_even_once_a_session_used_it(
    workers: tuple[Workers, Store],
) -> None:
    balancer, store = workers
    token = token_for(store, actor(store, Role.FINANCE))
    token_id = token.split("_")[1]
    with TestClient(balancer) as browser:
        _sign_in(browser, balancer, token)
        assert browser.get("/console/").status_code == 200  # the id's verdict is cached
        for presented in (token_id, f"elt_{token_id}_"):
            answer = browser.get("/v1/me", headers={"Authorization": f"Bearer {presented}"})
            assert answer.status_code == 401


def test_a_session_is_refreshed_at_most_once_a_minute_and_ends_when_idle(store: Store) -> None:
    idle = timedelta(minutes=30)
    token = token_for(store, actor(store, Role.FINANCE))
    token_id = token.split("_")[1]
    with store() as uow:
        start = uow.now()
    session_id = sessions.open_session(store, token_id, "finance-all", start)

    def last_seen() -> object:
        with store() as uow:
            found = uow.sessions.get(session_hash(session_id))
        return None if found is None else found.last_seen_at

    assert sessions.find_session(store, session_id, idle, start + timedelta(seconds=59))
    assert last_seen() == start  # no write within the minute
    later = start + timedelta(seconds=61)
    assert sessions.find_session(store, session_id, idle, later)
    assert last_seen() == later
    assert sessions.find_session(store, session_id, idle, later + timedelta(seconds=30))
    assert last_seen() == later  # used, not written: the session ends at most a minute early
    assert sessions.find_session(store, session_id, idle, later + idle) is not None
    past = later + 2 * idle + timedelta(seconds=1)  # idle since the use above
    assert sessions.find_session(store, session_id, idle, past) is None
    assert last_seen() is None  # deleted when presented


def test_the_sweeper_removes_sessions_nobody_came_back_to(store: Store) -> None:
    idle = timedelta(minutes=30)
    token_id = token_for(store, actor(store, Role.FINANCE)).split("_")[1]
    with store() as uow:
        now = uow.now()
    gone = sessions.open_session(store, token_id, "finance-all", now - idle - timedelta(seconds=1))
    live = sessions.open_session(store, token_id, "finance-all", now - idle + timedelta(minutes=1))
    assert sessions.expire_idle(store, idle) == 1
    assert sessions.find_session(store, live, idle) is not None
    assert sessions.find_session(store, gone, idle) is None


def test_messages_are_shown_only_to_the_session_they_were_sealed_for() -> None:
    sealed = seal_flashes("session-a", [("done", "已创建"), ("error", "Refused: x")])
    assert open_flashes("session-a", sealed) == [("done", "已创建"), ("error", "Refused: x")]
    assert open_flashes("session-b", sealed) == []
    mac = sealed.partition(".")[2]
    forged = seal_flashes("session-b", [("done", "planted")]).split(".")[0] + "." + mac
    assert open_flashes("session-a", forged) == []
    assert open_flashes("session-a", "garbage") == []
    many = seal_flashes("session-a", [("done", "x" * 600)] * 20)
    assert len(many) <= 3600 and 0 < len(open_flashes("session-a", many)) < 20
    assert re.fullmatch(r"[A-Za-z0-9_=-]+\.[0-9a-f]{64}", many)


# -- the console's jobs: run by one worker, followed and downloaded on any ---------------------


def _until_done(browser: TestClient, location: str) -> str:
    for _ in range(400):
        page = browser.get(location).text
        if 'http-equiv="refresh"' not in page:
            return page
        time.sleep(0.025)
    raise AssertionError("the job did not end")


def _ended(jobs: Jobs, principal_id: str, job_id: str) -> Job:
    """The job once it has ended (as the database has it)."""
    for _ in range(400):
        found = jobs.of(principal_id, job_id)
        if found is not None and found.ended:
            return found
        time.sleep(0.025)
    raise AssertionError("the job did not end")


def test_an_export_run_by_one_worker_is_followed_and_downloaded_on_the_other(
    workers: tuple[Workers, Store],
) -> None:
    balancer, store = workers
    build_registry(store)
    token = token_for(store, actor(store, Role.FINANCE))
    with TestClient(balancer) as browser:
        _sign_in(browser, balancer, token, worker=0)
        csrf = csrf_in(browser.get("/console/").text)
        form = {"csrf": csrf, "instrument": "CNY", "as_of": "", "format": "csv"}
        started = browser.post("/console/exports/trial-balance", data=form, follow_redirects=False)
        assert started.status_code == 303, started.text
        location = started.headers["location"]
        _on(balancer, 1)
        page = _until_done(browser, location)
        file = browser.get(f"{location}/file")
        api = browser.get(
            "/v1/finance/trial-balance",
            params={"instrument": "CNY", "format": "csv"},
            headers={"authorization": f"Bearer {token}"},
        )
    rows = api.text.count("\n") - 2  # less the header and the total
    assert f"Ready: {rows} rows." in page and f'href="{location}/file"' in page
    assert file.status_code == 200 and file.content == api.content
    other = token_for(store, actor(store, Role.REGULATOR))
    with TestClient(_on(balancer, 0)) as stranger:
        _sign_in(stranger, balancer, other, worker=0)
        assert stranger.get(location).status_code == 404
        assert stranger.get(f"{location}/file").status_code == 404


def test_a_jobs_progress_and_the_running_limit_hold_across_workers(
    workers: tuple[Workers, Store],
) -> None:
    balancer, store = workers
    finance = actor(store, Role.FINANCE)
    first, second = (console_of(app).jobs for app in balancer.apps)
    release = threading.Event()

    def work(job: Job) -> tuple[bool, str]:
        job.total = 10
        job.report(3)
        release.wait(10)
        job.report(10)
        return False, "done"

    running = [first.start(finance.id, f"slow-{n}.csv", None, work) for n in range(2)]
    try:
        with pytest.raises(Busy):  # two run on the first worker: the second starts none
            second.start(finance.id, "third.csv", None, work)
        for _ in range(200):
            if all(job.done == 3 for job in running):
                break
            time.sleep(0.01)
        first.flush()  # what its writer thread does every second
        seen = second.of(finance.id, running[0].id)
        assert seen is not None and (seen.done, seen.total, seen.percent) == (3, 10, 30)
        assert second.of("someone-else", running[0].id) is None
    finally:
        release.set()
    for job in running:
        ended = _ended(second, finance.id, job.id)
        assert (ended.outcome, ended.done, ended.percent) == ("done", 10, 100)
    room = second.start(finance.id, "next.csv", 1, lambda job: (False, "done"))  # room again
    _ended(second, finance.id, room.id)


def test_a_job_whose_worker_stopped_ends_as_failed_and_frees_its_place(
    workers: tuple[Workers, Store],
) -> None:
    balancer, store = workers
    finance = actor(store, Role.FINANCE)
    first, second = (console_of(app).jobs for app in balancer.apps)
    release = threading.Event()

    def work(job: Job) -> tuple[bool, str]:
        release.wait(10)
        return False, "too late"

    stopped = first.start(finance.id, "cut.csv", 5, work)
    first.close()  # the first worker stops (its thread would stop with it)
    seen = second.of(finance.id, stopped.id)
    release.set()
    for thread in threading.enumerate():
        if thread.name == f"console-job-{stopped.id}":
            thread.join(5)  # it ends, too late: the job stays as it was ended
    assert second.of(finance.id, stopped.id) == seen
    assert seen is not None and seen.ended and seen.failed
    assert seen.outcome is not None and seen.outcome.startswith("server_stopped")
    with store() as uow:  # a worker killed outright: its job's last news is old
        since = uow.now() - SILENT_MAX - timedelta(seconds=1)
        for n in range(2):
            uow.jobs.add(StoredJob(f"lost-{n}", finance.id, "import", "l.csv", 9, 4, since, since))
        uow.commit()
    shown = second.of(finance.id, "lost-0")
    assert shown is not None and shown.failed and shown.outcome == WORKER_LOST and shown.done == 4
    after = second.start(finance.id, "after.csv", 1, lambda job: (False, "done"))  # not counted
    _ended(second, finance.id, after.id)

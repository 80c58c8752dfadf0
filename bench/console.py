"""Every page of the web console on the demo registry: its response time, against the target
of 200 ms a page (issue 16). A measurement, not a test: it prints each page's median and worst
time over `--rounds` requests, and marks the pages over the target.

    .venv/bin/python -m bench.console [--rounds 20] [--output FILE]

The demo is loaded into a fresh SQLite file (as `make run` serves it); each role signs in
through the sign-in form and asks for every page of its dashboard (pages about a party ask
about E01) in process, through the ASGI application (no network), so the times are the
server's: routing, session, authentication, the use cases, rendering.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.console.permissions import CONSOLE_ROUTES, MENU
from ledger.domain.access import Role
from ledger.domain.operations import may
from ledger.entrypoints import demo
from ledger.persistence import migrate
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.settings import Settings

TARGET_MS = 200.0
# A principal of each role, and the query its party pages need.
SIGNED_IN = {
    "demo-e01": "",
    "demo-regulator": "?party=E01",
    "demo-tangshan": "?party=E01",
    "demo-verifier": "?party=E01",
    "demo-finance": "?party=E01",
    "demo-admin": "",
}
# Pages with a path or a query of their own: (path, the route it is).
EXTRA = (
    ("/console/principals/demo-e01", "GET /console/principals/{principal_id}"),
    ("/console/reports?status=verified", "GET /console/reports"),
    ("/console/listings/T3", "GET /console/listings/{listing_id}"),  # the demo's sold listing
    ("/console/listings?state=all", "GET /console/listings"),
)


def pages_of(role: Role) -> list[str]:
    """The role's dashboard, every page its dashboard links to, and the extra pages it may open."""
    menu = [path for path, _ in MENU if may(role, CONSOLE_ROUTES[f"GET {path}"] or "me.read")]
    extra = [path for path, route in EXTRA if may(role, CONSOLE_ROUTES[route] or "me.read")]
    return ["/console/", *menu, *extra]


def sign_in(client: TestClient, token: str) -> None:
    page = client.get("/console/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    answer = client.post(
        "/console/sign-in", data={"csrf": csrf.group(1), "token": token}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text


def measure(client: TestClient, path: str, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:300]}"
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.console", description=__doc__)
    parser.add_argument("--rounds", type=int, default=20, help="requests per page")
    parser.add_argument("--output", type=Path, help="also write the report here")
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-console-") as directory:
        url = f"sqlite:///{Path(directory) / 'ledger.db'}"
        migrate.upgrade(url)
        store = Store(create_ledger_engine(url, sqlite_synchronous="NORMAL"))
        settings = Settings(database_url=url, request_limit="1000000/minute")
        store.four_eyes = settings.four_eyes_policy()
        tokens = {principal: (role, token) for principal, role, token in demo.load(store).tokens}
        lines = [f"console pages on the demo registry, {arguments.rounds} requests each",
                 f"{'principal':16} {'page':44} {'median ms':>9} {'worst ms':>9}"]  # fmt: skip
        over = 0
        with TestClient(create_app(settings, store=store)) as client:
            for principal, query in SIGNED_IN.items():
                role, token = tokens[principal]
                client.cookies.clear()
                sign_in(client, token)
                for page in pages_of(role):
                    path = page + (query if "?" not in page and page != "/console/" else "")
                    times = measure(client, path, arguments.rounds)
                    median, worst = statistics.median(times), max(times)
                    mark = "  over the target" if median > TARGET_MS else ""
                    over += median > TARGET_MS
                    lines.append(f"{principal:16} {path:44} {median:9.1f} {worst:9.1f}{mark}")
        store.dispose()
    lines.append(f"{over} page(s) over {TARGET_MS:.0f} ms (median)")
    report = "\n".join(lines)
    print(report)
    if arguments.output:
        arguments.output.write_text(report + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Browser tests: Debian's headless Chromium, driven by Selenium through Debian's chromedriver,
against the real server (uvicorn on a loopback port) over the demo registry on PostgreSQL, the
production database (a database of its own; the console's HTTP tests in tests/console run on
SQLite, so the console is exercised on both).

One server and one browser serve the whole session (each xdist worker has its own): the tests
are few and walk whole flows. `make test` installs Chromium when it is missing (`make browser`);
with CI=true a missing browser fails the run instead of skipping. Every page a test visits is
saved as a screenshot under `test-artifacts/screenshots/` (kept out of git).
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select

from api.app import create_app
from ledger.entrypoints import demo
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.settings import Settings
from tests.conftest import IN_CI, new_postgres_database

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
BROWSER_ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--window-size=1280,1000",
)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@dataclass
class LiveServer:
    url: str
    store: Store
    tokens: dict[str, str]  # demo principal id -> token


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    """The application over a freshly loaded demo registry (PostgreSQL), served on loopback."""
    with new_postgres_database() as url:
        yield from _served(url)


def _served(url: str) -> Iterator[LiveServer]:
    store = Store(create_ledger_engine(url))
    settings = Settings(database_url=url)
    store.four_eyes = settings.four_eyes_policy()
    loaded = demo.load(store)
    app = create_app(settings, store=store)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield LiveServer(f"http://127.0.0.1:{port}", store, {p: t for p, _, t in loaded.tokens})
    server.should_exit = True
    thread.join(timeout=10)
    store.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def driver() -> Iterator[WebDriver]:
    """One headless Chromium for the session."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        message = f"{CHROMIUM} and {CHROMEDRIVER} are needed: `make browser` installs them"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in BROWSER_ARGUMENTS:
        options.add_argument(argument)
    browser = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield browser
    browser.quit()


@dataclass
class Console:
    """A person at the console: visits pages (a screenshot of each), fills and sends forms."""

    driver: WebDriver
    server: LiveServer
    test: str
    language: str = "zh"
    shots: list[Path] = field(default_factory=list)

    def open(self, path: str) -> None:
        self.driver.get(self.server.url + path)
        self.shot()

    def shot(self) -> None:
        """Save what the browser shows now."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page = re.sub(r"[^A-Za-z0-9]+", "-", self.driver.current_url.split("/console", 1)[-1])
        name = f"{self.test}-{len(self.shots) + 1:02}{page.rstrip('-') or '-home'}.png"
        target = SCREENSHOTS / name
        self.driver.save_screenshot(str(target))
        self.shots.append(target)

    def sign_in(self, principal: str) -> None:
        """Sign out whoever is signed in, choose the language, sign in with the token."""
        self.driver.delete_all_cookies()
        self.open(f"/console/language/{self.language}?next=/console/")
        self.fill({"token": self.server.tokens[principal]})
        self.submit("form.card")

    def fill(self, fields: dict[str, str]) -> None:
        for name, value in fields.items():
            element = self.driver.find_element(By.NAME, name)
            if element.tag_name == "select":
                Select(element).select_by_visible_text(value)
            elif element.get_attribute("type") == "radio":
                self.driver.find_element(
                    By.CSS_SELECTOR, f"input[name='{name}'][value='{value}']"
                ).click()
            else:
                element.clear()
                element.send_keys(value)

    def submit(self, form_selector: str) -> None:
        """Press the form's button (a real click: the browser sends the form); then a shot."""
        form = self.driver.find_element(By.CSS_SELECTOR, form_selector)
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        self.shot()

    def click(self, selector: str) -> None:
        self.driver.find_element(By.CSS_SELECTOR, selector).click()
        self.shot()

    @property
    def text(self) -> str:
        body: str = self.driver.find_element(By.TAG_NAME, "body").text
        return body


@pytest.fixture(params=["zh", "en"])
def console(
    request: pytest.FixtureRequest, driver: WebDriver, live_server: LiveServer
) -> Iterator[Console]:
    """The console in each language, for one test; its screenshots named after the test."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name).strip("-")
    person = Console(driver, live_server, name, request.param)
    yield person
    assert person.shots, "a browser test visits at least one page"

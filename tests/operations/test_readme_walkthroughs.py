"""The README's walkthroughs run as they are written, against the demo registry on a real server:
every `sh` block of its "Walkthroughs" section, in order, with curl failing on any 4xx or 5xx."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.live import ServerProcess
from ledger.entrypoints import cli

ROOT = Path(__file__).resolve().parents[2]
# The demo principals, by the names the README tells the reader to export them under.
TOKEN_NAMES = {
    "demo-admin": "T_ADMIN",
    "demo-admin-2": "T_ADMIN2",
    "demo-regulator": "T_REGULATOR",
    "demo-regulator-2": "T_REGULATOR2",
    "demo-e01": "T_E01",
    "demo-e02": "T_E02",
    "demo-finance": "T_FINANCE",
}
STRICT_CURL = 'set -euo pipefail\ncurl() { command curl --fail-with-body "$@"; }\n'


def walkthrough_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Walkthroughs\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)


def demo_tokens(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    assert cli.main(["demo"]) == 0
    printed = capsys.readouterr().out
    tokens = {}
    for principal, name in TOKEN_NAMES.items():
        match = re.search(rf"^  {re.escape(principal)} +\S+ +(\S+)$", printed, re.MULTILINE)
        assert match, f"the demo printed no token for {principal}"
        tokens[name] = match.group(1)
    return tokens


def test_every_walkthrough_of_the_readme_runs_against_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("LEDGER_DATABASE_URL", url)
    tokens = demo_tokens(capsys)
    blocks = walkthrough_blocks()
    assert len(blocks) >= 4, "one walkthrough per role"
    server = ServerProcess(url, tmp_path / "server.log", cli=True)
    server.start()
    try:
        env = dict(os.environ, B=server.base_url, J="content-type: application/json", **tokens)
        for block in blocks:
            script = STRICT_CURL + block.replace(".venv/bin/", f"{Path(sys.executable).parent}/")
            done = subprocess.run(
                ["bash", "-c", script],
                cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert done.returncode == 0, (
                f"{block}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
            )
    finally:
        server.stop()

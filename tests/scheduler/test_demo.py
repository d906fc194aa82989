"""``bpsync demo --once`` on a machine with no servers: one process, exit 0, every module's badge shown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from shared.modules import MODULE_ORDER


@pytest.mark.slow  # a demo process that syncs its world: started early under xdist
def test_demo_once_syncs_shows_every_badge_and_the_refresh_writes_exactly_the_change(tmp_path):
    # Nothing configured: no BPSYNC_* variable and a home of its own, as on a fresh machine.
    env = {k: v for k, v in os.environ.items() if not k.startswith("BPSYNC_")}
    env |= {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    out = subprocess.run(
        [sys.executable, "-m", "scheduler.cli", "demo", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    lines = out.stdout.splitlines()
    status_rows = [line for line in lines if line.startswith("│") and "UTC" in line]
    for module in MODULE_ORDER:
        assert any(f"│ {module} " in row and "Active" in row for row in status_rows), f"no badge for {module}"
    assert "the beat's first tick starts it" in out.stdout
    assert "error summary" in out.stdout and "no_primary_client" in out.stdout
    assert "the refresh wrote exactly the change (tasks: 1 updated" in out.stdout
    # Finance: the project side's invoice confirmed, a second one refused naming it, Books' expense arrived
    assert "a second invoice for the same items is refused" in out.stdout and "INV-" in out.stdout
    assert "Unbilled expenses: 1, 42.50 USD" in out.stdout
    # the invoice bills its time at a real rate (the project's Zoho Projects rate), not at 0.00
    [sent] = [line for line in lines if "confirmed by Zoho Books: " in line and line.startswith("invoice INV-")]
    assert float(sent.split(", total ")[1].split()[0].replace(",", "")) > 0, sent
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").rglob("*.sqlite"))  # nothing left


@pytest.mark.slow  # a demo process that syncs its world: started early under xdist
def test_demo_serves_the_web_ui_at_the_printed_url_until_ctrl_c(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BPSYNC_")}
    env |= {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}
    demo = subprocess.Popen(
        [sys.executable, "-m", "scheduler.cli", "demo", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        url = next((line.strip() for line in demo.stdout if "/login?token=" in line), None)
        assert url, demo.stderr.read() if demo.poll() is not None else "no URL printed"
        browser = requests.Session()
        page = wait_for_page(browser, url)  # signs in (cookie), then lands on the integrations page
        assert page.status_code == 200 and "demo" in page.text and "Active" in page.text
        base = url.split("/login")[0]
        assert requests.get(f"{base}/integrations", timeout=5).status_code == 401  # without the token: refused
    finally:
        demo.send_signal(signal.SIGINT)
        code = demo.wait(30)
    assert code == 0, demo.stderr.read()


def wait_for_page(browser: requests.Session, url: str) -> requests.Response:
    deadline = time.monotonic() + 30
    while True:
        try:
            return browser.get(url, timeout=5)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)

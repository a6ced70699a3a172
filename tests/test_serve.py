"""`runbook serve` in a real browser: Debian's Chromium, headless, driven by Selenium through chromedriver. The
page with the token shows the session's steps and takes an approval; without the token, nothing (HTTP 403, the
websocket refused)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT
from runbook.engine.approval import ApprovalPolicy
from runbook.journal import beside
from test_approval import Driven

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver") or "/usr/bin/chromedriver"


class Served:
    """runbook serve SESSION --port 0, stopped by its pid."""

    def __init__(self, journal: Path, *extra: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "runbook.cli", "serve", str(journal), "--port", "0", *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        self.said: list[str] = []
        deadline = time.monotonic() + 30
        self.url = ""
        while not self.url and time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"runbook serve ended: {self.proc.stderr.read()}")
            self.said.append(line)
            m = re.search(r"http://\S+/", line)
            self.url = m.group(0) if m else ""
        for _ in range(2):  # the lines that follow the URL: where it listens, the viewers file
            self.said.append(self.proc.stdout.readline())
        assert self.url, self.said
        self.base = self.url.rstrip("/").rsplit("/", 1)[0]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def status(url: str) -> int:
    try:
        return urllib.request.urlopen(url, timeout=10).status
    except urllib.error.HTTPError as e:
        return e.code


def websocket_status(url: str) -> int:
    """The HTTP status a websocket handshake to url gets (101 when it is accepted)."""
    import aiohttp

    async def go() -> int:
        async with aiohttp.ClientSession() as s:
            try:
                async with s.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws:
                    await ws.close()
                    return 101
            except aiohttp.WSServerHandshakeError as e:
                return e.status

    return asyncio.run(go())


def test_without_the_token_there_is_nothing(tmp_path) -> None:
    d = Driven(tmp_path, ApprovalPolicy(), answers={"look": "ack", "act": {"confirm": "host"}})
    d.flag.write_text("safe")
    assert d.done() == "completed"
    s = Served(d.path)
    try:
        assert "this host only" in "".join(s.said)
        assert s.url.startswith("http://127.0.0.1:")
        token = s.url.rstrip("/").rsplit("/", 1)[1]
        assert len(token) >= 32
        assert status(s.url) == 200
        for bad in ("/", "/ws", "/static/js/textual.js", f"/{token[:-1]}x/", f"/{token[:-1]}x/ws", "/download/x",
                    f"/x/{token}/"):
            assert status(s.base + bad) == 403, bad
        ws = s.base.replace("http:", "ws:")
        assert websocket_status(ws + "/ws") == 403
        assert websocket_status(f"{ws}/{token[:-1]}x/ws") == 403
        assert websocket_status(f"{ws}/{token}/ws") == 101  # the same handshake with the token is taken
    finally:
        s.stop()
    viewers = beside.read(beside.beside(d.path, beside.VIEWERS))
    assert [v["event"] for v in viewers].count("refused") >= 9
    assert all(token not in str(v) for v in viewers)  # a refused path's first part is not written down
    assert any(v["event"] == "page" and v["from"] == "127.0.0.1" for v in viewers)


def test_wider_binding_is_said_plainly(tmp_path) -> None:
    d = Driven(tmp_path, ApprovalPolicy(), answers={"look": "ack", "act": {"confirm": "host"}})
    d.flag.write_text("safe")
    d.done()
    s = Served(d.path, "--bind", "0.0.0.0")
    try:
        said = "".join(s.said)
        assert "WARNING: listening on 0.0.0.0" in said and "beyond this host" in said
    finally:
        s.stop()


@pytest.fixture
def browser():
    if not CHROMIUM or not os.path.exists(CHROMEDRIVER):
        pytest.skip("needs Debian's chromium and chromium-driver (bash .ci/setup installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000",
              f"--user-data-dir={Path(os.environ['RUNBOOK_STATE_DIR']) / 'chromium'}"):
        opts.add_argument(a)
    service = Service(CHROMEDRIVER)
    driver = webdriver.Chrome(service=service, options=opts)
    # The terminal draws on a canvas when it can; without one, xterm.js keeps its rows as text in the DOM,
    # which is what this test reads.
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                           {"source": "HTMLCanvasElement.prototype.getContext = function () { return null; };"})
    try:
        yield driver
    finally:
        driver.quit()  # (chromedriver and its chromium, started by this fixture)


def screen(driver) -> str:
    return driver.execute_script("const r = document.querySelector('.xterm-rows'); return r ? r.innerText : '';") or ""


def wait_screen(driver, text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = screen(driver)
        if text in s:
            return s
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never showed in the browser; it showed:\n{screen(driver)}")


def test_the_browser_sees_the_steps_and_gives_the_approval(tmp_path, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    d = Driven(tmp_path, ApprovalPolicy(required=True, timeout_s=120))
    d.wait_request()
    s = Served(d.path)
    try:
        browser.get(s.url)
        shown = wait_screen(browser, "BREAK-GLASS WAITS FOR A SECOND PERSON")
        assert "Read the flag" in shown and "Look at it" in shown and "Touch the marker" in shown
        assert "read-only view" in shown and "dana wants to run host.command" in shown
        assert not d.marker.exists()
        keys = browser.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea")
        wait_screen(browser, "Type your name, then Enter")  # the approver's name has the focus
        keys.send_keys("ingrid")
        wait_screen(browser, "ingrid")
        keys.send_keys(Keys.ENTER)
        wait_screen(browser, "Now type the target's name")  # the focus went on to it
        keys.send_keys("host", Keys.ENTER)
        wait_screen(browser, "ENDED completed", 60)
        assert d.done() == "completed" and d.marker.exists()
        browser.get(s.base + "/")
        assert "403" in browser.page_source or "token" in browser.page_source
        assert "runbook watch" not in browser.page_source
    finally:
        s.stop()
    ap = next(e for e in d.events() if e.kind == "approval")
    assert ap.data["approver"] == "ingrid" and ap.data["from"] == "browser at 127.0.0.1"
    viewers = beside.read(beside.beside(d.path, beside.VIEWERS))
    events = [(v["event"], v.get("via")) for v in viewers]
    assert ("page", "serve") in events and ("connected", "serve") in events and ("watching", "watch") in events
    assert any(v.get("from") == "browser at 127.0.0.1" for v in viewers)

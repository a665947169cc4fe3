"""report.html in a real browser: headless Chromium (the system package) opens a run's page from disk, and every
image must load (decoded, with a width) and the console must stay free of errors.

Chromium is driven through the DevTools protocol over a pipe (`--remote-debugging-pipe`: NUL-terminated JSON on
file descriptors 3 and 4), so the test needs no Python package beyond the standard library. `.ci/run` installs
Chromium where it is missing; elsewhere the test skips and says why."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from cosim.cli import main
from cosim.config import parse_scenario
from cosim.runner.run import run_scenario

pytestmark = pytest.mark.slow  # co-simulations, studies or processes: not in the quick subset

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT_S = 60.0


def browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


class DevTools:
    """A headless Chromium and one page, spoken to over the DevTools pipe."""

    def __init__(self, executable: str, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # the child must find our pipes on its fds 3 (it reads) and 4 (it writes)
        self.proc = subprocess.Popen(
            [executable, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             "--allow-file-access-from-files", "--no-first-run", f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(3, 4), preexec_fn=_dup_to(to_browser_r, from_browser_w))
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        seen = next((e for e in self.events if e.get("method") == method), None)
        while seen is None:
            event = self._read()
            self.events.append(event)
            seen = event if event.get("method") == method else None
        return seen

    def _read(self) -> dict:
        deadline = time.monotonic() + TIMEOUT_S
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise EOFError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(line)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (OSError, RuntimeError, EOFError, TimeoutError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


def _dup_to(read_fd: int, write_fd: int):
    def setup() -> None:  # in the child, before exec: first out of the way (either may be 3 or 4), then in place
        high_r, high_w = fcntl.fcntl(read_fd, fcntl.F_DUPFD, 100), fcntl.fcntl(write_fd, fcntl.F_DUPFD, 100)
        os.dup2(high_r, 3)
        os.dup2(high_w, 4)
    return setup


def open_page(executable: str, page: Path, profile: Path) -> tuple[list[dict], list[str]]:
    """Load `page` and return its images ({src, complete, width}) and every console error, failed load and
    uncaught exception, each as one line."""
    tools = DevTools(executable, profile)
    try:
        target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            tools.send(f"{domain}.enable", session=session)
        tools.events.clear()
        tools.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
        tools.wait_for("Page.loadEventFired")
        images = tools.send("Runtime.evaluate", {
            "expression": "JSON.stringify([...document.images].map(i => ({src: i.getAttribute('src'), "
                          "complete: i.complete, width: i.naturalWidth})))", "returnByValue": True},
            session=session)["result"]["value"]
        errors = []
        for event in tools.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(f"console: {params.get('args')}")
            elif method == "Runtime.exceptionThrown":
                errors.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                errors.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
            elif method == "Network.loadingFailed":
                errors.append(f"load failed: {params.get('errorText')}")
        return json.loads(images), errors
    finally:
        tools.close()


@pytest.fixture(scope="module")
def executable() -> str:
    path = browser()
    if path is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium; .ci/run installs it): report.html is "
                    "not opened in a browser here")
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    scenario = parse_scenario({
        "name": "browser", "output_dir": str(tmp_path_factory.mktemp("runs")), "network": {"name": "ieee33"},
        "controller": {"name": "rule"}, "output": {"dpi": 60},
        "lots": [{"id": "PL1", "bus": 18, "fleet": "stochastic", "fleet_options": {"n_per_day": 20}}]})
    return run_scenario(scenario, progress=False).run_dir


def test_every_image_of_the_report_loads_without_console_errors(executable, run_dir, tmp_path):
    images, errors = open_page(executable, run_dir / "report.html", tmp_path / "profile")
    assert len(images) >= 8, images
    broken = [i["src"] for i in images if not (i["complete"] and i["width"] > 0)]
    assert not broken, f"images that did not load: {broken}"
    assert not errors, errors


def test_the_page_still_shows_images_after_a_pdf_report(executable, run_dir, tmp_path):
    copy = Path(shutil.copytree(run_dir, tmp_path / "run"))
    assert main(["report", str(copy), "--format", "pdf", "--dpi", "60"]) == 0
    images, errors = open_page(executable, copy / "report.html", tmp_path / "profile")
    assert images and all(i["complete"] and i["width"] > 0 for i in images) and not errors


def test_a_missing_image_is_seen(executable, run_dir, tmp_path):
    """The check itself: a page whose figure file is gone fails it (a broken image and a failed load)."""
    copy = Path(shutil.copytree(run_dir, tmp_path / "run"))
    (copy / "plots" / "voltage.png").unlink()
    images, errors = open_page(executable, copy / "report.html", tmp_path / "profile")
    assert [i["src"] for i in images if i["width"] == 0] == ["plots/voltage.png"]
    assert errors

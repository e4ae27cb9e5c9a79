"""Headless Chromium through chromedriver's W3C WebDriver HTTP API, from the standard library.

``with Browser() as browser: browser.open(path); browser.run("return ...")``. Debian's
``chromium`` and ``chromium-driver`` (``/usr/bin/chromium``, ``/usr/bin/chromedriver``); no npm,
no download. Each browser gets a fresh profile folder and starts with nothing that reaches the
network (no first run, no component updates, no sync, no QUIC), which a machine without one needs.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

PROGRAMS = ("chromium", "chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Browser:
    """One headless Chromium session, driven over HTTP."""

    def __init__(self, width: int = 1280, height: int = 900) -> None:
        self.size = (width, height)
        self.port = free_port()
        self.profile = Path(tempfile.mkdtemp(prefix="chromium-profile-"))
        self.driver: subprocess.Popen[bytes] | None = None
        self.session = ""

    def __enter__(self) -> Browser:
        chromium, chromedriver = (shutil.which(name) for name in PROGRAMS)
        assert chromium and chromedriver, "chromium and chromedriver must be installed"
        self.driver = subprocess.Popen(
            [chromedriver, f"--port={self.port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if self._call("GET", "/status")["ready"]:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert time.monotonic() < deadline, "chromedriver did not start"
            time.sleep(0.05)
        options = {
            "binary": chromium,
            "args": [
                *FLAGS,
                f"--user-data-dir={self.profile}",
                f"--window-size={self.size[0]},{self.size[1]}",
            ],
        }
        capabilities = {
            "browserName": "chrome",
            "goog:chromeOptions": options,
            "goog:loggingPrefs": {"browser": "ALL"},
        }
        created = self._call("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}})
        self.session = created["sessionId"]
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.session:
                self._call("DELETE", f"/session/{self.session}")
        finally:
            if self.driver is not None:
                self.driver.terminate()
                self.driver.wait(timeout=30)
            shutil.rmtree(self.profile, ignore_errors=True)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as error:
            raise AssertionError(f"WebDriver {method} {path}: {error.read().decode()}") from None

    def _session(self, method: str, path: str, body: Any = None) -> Any:
        return self._call(method, f"/session/{self.session}{path}", body)

    def open(self, page: Path) -> float:
        """Load a file and wait for its ``load`` event; the seconds that took."""
        started = time.perf_counter()
        self._session("POST", "/url", {"url": page.resolve().as_uri()})
        return time.perf_counter() - started

    def run(self, script: str, *args: Any) -> Any:
        """Run a function body in the page (``return ...``); its value."""
        return self._session("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait_for(self, script: str, timeout: float = 30) -> Any:
        """Run ``script`` until it returns something truthy; that."""
        deadline = time.monotonic() + timeout
        while not (value := self.run(script)):
            assert time.monotonic() < deadline, f"never true: {script}"
            time.sleep(0.05)
        return value

    def click(self, css: str) -> None:
        found = self._session("POST", "/element", {"using": "css selector", "value": css})
        element = next(iter(found.values()))
        self._session("POST", f"/element/{element}/click", {})

    def console(self) -> list[dict[str, Any]]:
        """What the page wrote to its console since the last call (errors have level SEVERE)."""
        entries: list[dict[str, Any]] = self._session("POST", "/se/log", {"type": "browser"})
        return entries

    def screenshot(self, target: Path) -> Path:
        target.write_bytes(base64.b64decode(self._session("GET", "/screenshot")))
        return target

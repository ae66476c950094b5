"""The report opened in headless Chromium: figures render, no console errors, no script runs,
and the first screen shows the corpus as one compact table.

Chromium is driven over the DevTools protocol through ``--remote-debugging-pipe`` (file
descriptors 3 and 4, NUL-separated JSON), so no websocket library or port is needed. Skips
cleanly when Debian's ``chromium`` is not installed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from study_fixtures import toy_docs

from nercurve.analysis import analyze
from nercurve.analysis.data import Runs
from nercurve.analysis.simulate import simulate_runs
from nercurve.corpus.stats import corpus_stats
from nercurve.report import write_report

CHROMIUM = shutil.which("chromium")
EVIL = "<script>alert(1)</script>"
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


class Chromium:
    """A headless Chromium spoken to over the DevTools pipe."""

    def __init__(self, profile: Path) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire() -> None:  # in the child: the protocol expects fds 3 (read) and 4 (write)
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
             "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=wire, pass_fds=(3, 4),
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict:
        """Send a command and wait for its reply, keeping the events that arrive meanwhile."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read(timeout)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict:
        """Wait for an event (or take it from those already received)."""
        for event in self.events:
            if event.get("method") == method:
                return event
        deadline = time.monotonic() + timeout
        while True:
            event = self._read(max(0.1, deadline - time.monotonic()))
            self.events.append(event)
            if event.get("method") == method:
                return event

    def _read(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_child], [], [], max(0.0, left))
            if not ready:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.send("Browser.close", timeout=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_child)
        os.close(self._from_child)


@pytest.fixture(scope="module")
def report_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = simulate_runs({"spacy": (0.86, 1.5, 0.5), EVIL: (0.93, 3.0, 0.6)}, n_subsets=80,
                         seed=3)
    # spacy's subsets chosen by two strategies: random and one with a hostile name, whose
    # comparison adds the selection section and its figure
    chosen = runs.loc[runs["backend"] == "spacy"].assign(
        selection=EVIL, f1=lambda f: (f["f1"] + 0.02).clip(0, 1),
        subset_id=lambda f: "chosen-" + f["subset_id"])
    runs = pd.concat([runs.assign(selection="random"), chosen], ignore_index=True)
    baseline = pd.DataFrame([{"backend": "pretrained", "n_sentences": 0, "eps": 1.3,
                              "f1": 0.31, "status": "done", "subset_id": "none"}])
    docs = toy_docs(60, seed=1)
    stats = {"pool": corpus_stats(docs[:40]).to_dict(), "dev": corpus_stats(docs[40:45]).to_dict(),
             "test": corpus_stats(docs[45:]).to_dict(), "select_on": "dev"}
    analysis = analyze(Runs(frame=pd.concat([runs, baseline], ignore_index=True), source="toy",
                            corpus_stats=stats), n_boot=200)
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_report(analysis, path)
    return path


def test_report_renders_in_chromium(report_path: Path, tmp_path: Path) -> None:
    browser = Chromium(tmp_path / "profile")
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget",
                               {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                     session=session)
        browser.send("Page.navigate", {"url": report_path.as_uri()}, session=session)
        browser.wait_for("Page.loadEventFired")
        probe = """JSON.stringify({
            svgs: Array.from(document.querySelectorAll('figure svg')).map(s => {
                const r = s.getBoundingClientRect();
                return {w: r.width, h: r.height, marks: s.querySelectorAll('path, use').length};
            }),
            text: document.body.innerText,
            scripts: document.scripts.length,
            selection: (document.querySelector('#selection') || {}).innerText,
            tables: document.querySelectorAll('table').length,
            corpus: Array.from(document.querySelectorAll('#corpus > table')).map(t => ({
                top: t.getBoundingClientRect().top,
                height: t.getBoundingClientRect().height,
                rows: Array.from(t.tBodies[0].rows).map(r => r.cells[0].innerText),
                head: t.tHead.rows.length,
            })),
            folded: Array.from(document.querySelectorAll('#corpus details')).map(d => ({
                open: d.open,
                visible: Array.from(d.querySelectorAll('table')).map(t => t.checkVisibility()),
            })),
        })"""
        page = json.loads(browser.send("Runtime.evaluate", {"expression": probe,
                                                            "returnByValue": True},
                                       session=session)["result"]["value"])
        size = browser.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
        shot = browser.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": 1200, "height": min(size["height"], 8000),
                     "scale": 1},
        }, session=session)
    finally:
        browser.close()

    assert len(page["svgs"]) == 4  # learning curves, overview, F1 vs EPS, selection
    assert page["selection"] and EVIL in page["selection"]
    for svg in page["svgs"]:
        assert svg["w"] > 300 and svg["h"] > 150
        assert svg["marks"] > 50  # axes, ticks, points and curves were drawn
    assert page["scripts"] == 0
    assert EVIL in page["text"]  # the hostile backend name is shown as text...
    assert page["tables"] >= 5
    # one compact corpus table, on the first screen (900 px), rows pool/dev/test, each label
    # over its entities and EPS; the distributions wait in a closed <details>
    [corpus] = page["corpus"]
    assert corpus["rows"] == ["pool", "dev", "test"] and corpus["head"] == 2
    assert corpus["top"] + corpus["height"] < 900 and corpus["height"] < 200
    [folded] = page["folded"]
    assert not folded["open"] and folded["visible"] and not any(folded["visible"])
    methods = {e.get("method") for e in browser.events}
    assert "Page.javascriptDialogOpening" not in methods  # ...and never ran
    errors = [e for e in browser.events
              if e.get("method") == "Runtime.exceptionThrown"
              or (e.get("method") == "Runtime.consoleAPICalled"
                  and e["params"].get("type") in {"error", "assert"})
              or (e.get("method") == "Log.entryAdded"
                  and e["params"]["entry"].get("level") == "error")]
    assert errors == []
    png = base64.b64decode(shot["data"])
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    (tmp_path / "report.png").write_bytes(png)

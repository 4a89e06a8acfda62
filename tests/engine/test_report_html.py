"""report.html in a real headless Chromium: rendered offline, safe against a hostile target, reproducible."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import Workspace, latency_scenario

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "s3cr3t-t0ken-4f9a1c"
MARKUP = '<script>window.__pwned = 1</script><img src="x.png" onerror="window.__pwned = 2">'
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is not installed")


@dataclass
class Visit:
    """What the browser saw while the page loaded."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)


def visit(report: Path, screenshot: Path, script: str) -> Visit:
    """Open `report` in Chromium, evaluate `script` (a JS expression) once the charts are drawn."""
    seen = Visit()
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: seen.errors.append(str(e)))
            page.on("request", lambda r: seen.requests.append(r.url))
            page.on("dialog", lambda d: (seen.dialogs.append(d.message), d.dismiss()))
            page.goto(report.as_uri())
            page.wait_for_load_state("load")
            page.wait_for_timeout(1000)
            seen.results = page.evaluate(script)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return seen


PAGE_FACTS = """() => ({
  verdict: document.querySelector('#verdict .decision').textContent.trim(),
  score: document.querySelector('#score .big').textContent.trim(),
  gates: document.querySelectorAll('#scorecard tbody tr').length,
  gateNames: Array.from(document.querySelectorAll('#scorecard tbody td:first-child'))
    .map(td => td.textContent),
  plots: document.querySelectorAll('.js-plotly-plot').length,
  faultRects: document.querySelectorAll('#chart-0 .shapelayer path').length,
  notes: Array.from(document.querySelectorAll('#chart-0 .annotation-text')).map(n => n.textContent),
  pwned: typeof window.__pwned,
})"""


def test_report_renders_offline_with_verdict_score_scorecard_and_fault_window(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = workspace.scenario("latency", latency_scenario(latency=300, threshold="150ms"))
    result = workspace.run("run", str(path), "--out", "out")
    assert result.returncode == 1, result.stderr
    report = workspace.out / "report.html"
    assert report.stat().st_size < 6_000_000
    seen = visit(report, tmp_path / "report.png", PAGE_FACTS)
    assert seen.errors == []
    assert seen.requests == [report.as_uri()]
    facts = seen.results
    assert facts["verdict"] == "NO-GO"
    assert facts["score"] == f"{workspace.results()['score']:g}"
    assert facts["gates"] >= 3
    assert "latency p95" in facts["gateNames"]
    assert facts["plots"] == 1
    assert facts["faultRects"] >= 1
    assert "⚡ lag" in facts["notes"]
    assert any("p95 < 150ms (during)" in note for note in facts["notes"])
    assert (tmp_path / "report.png").stat().st_size > 10_000


class Hostile(BaseHTTPRequestHandler):
    """Answers every request with markup and the credentials it was sent."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        body = json.dumps(
            {"html": MARKUP, "echo": auth, "you_sent": auth.removeprefix("Bearer "), "token": TOKEN}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", f"session={TOKEN}")
        self.send_header("X-Echo", auth)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def hostile() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_hostile_markup_is_text_and_the_token_is_nowhere(
    workspace: Workspace, hostile: str, tmp_path: Path
) -> None:
    workspace.target("hostile", kind="url", base_url=hostile, toxiproxy_url=workspace.toxiproxy_url)
    request = {"path": "/anything", "headers": {"Authorization": f"Bearer {TOKEN}"}}
    path = workspace.scenario(
        "hostile",
        {
            "id": "hostile",
            "title": f"hostile {MARKUP}",
            "target": "hostile",
            "probes": [{"name": "echo", "request": request, "expect": {"json": {"$.ok": {"exists": True}}}}],
            "observe": "2s",
            "expect": {"before": [{"metric": "error_rate < 1%", "of": "echo"}]},
        },
    )
    result = workspace.run("run", str(path), "--out", "out")
    assert result.returncode == 1, result.stderr
    report = workspace.out / "report.html"
    html = report.read_text()
    assert TOKEN not in html
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html
    script = """() => ({
      pwned: typeof window.__pwned,
      text: document.body.innerText,
      images: document.querySelectorAll('img').length,
      samples: document.querySelectorAll('.sample').length,
      html: document.documentElement.outerHTML,
    })"""
    seen = visit(report, tmp_path / "hostile.png", script)
    facts = seen.results
    assert facts["pwned"] == "undefined"
    assert seen.dialogs == []
    assert facts["images"] == 0
    assert facts["samples"] >= 1
    assert "<script>window.__pwned = 1</script>" in facts["text"]  # shown as text: the title
    assert TOKEN not in facts["html"]
    assert "[REDACTED]" in facts["html"]
    assert seen.requests == [report.as_uri()]
    assert seen.errors == []


def test_report_command_reproduces_every_output(workspace: Workspace, tmp_path: Path) -> None:
    path = workspace.scenario("latency", latency_scenario(latency=300, threshold="150ms"))
    assert workspace.run("run", str(path), "--out", "out").returncode == 1
    names = ("results.json", "junit.xml", "summary.md", "report.html")
    kept = tmp_path / "kept"
    kept.mkdir()
    for name in names:
        shutil.move(workspace.out / name, kept / name)
    again = workspace.run("report", "out")
    assert again.returncode == 0, again.stderr
    for name in names:
        assert (workspace.out / name).read_text() == (kept / name).read_text(), name
    missing = workspace.run("report", "nowhere")
    assert missing.returncode == 2
    assert "no journal.jsonl" in missing.stderr


def test_a_report_html_that_cannot_be_written_makes_the_run_exit_3(workspace: Workspace) -> None:
    path = workspace.scenario("calm", latency_scenario(latency=None))
    (workspace.out / "report.html").mkdir(parents=True)  # the writer cannot replace a folder
    result = workspace.run("run", str(path), "--out", "out")
    assert result.returncode == 3, result.stderr
    assert "HtmlReport failed on RunFinished" in result.stderr
    assert "report.html is missing or incomplete" in result.stderr
    assert workspace.results()["verdict"]["decision"] == "go"
    assert "Traceback" not in result.stderr

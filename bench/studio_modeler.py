"""Issue 12, the studio: how long the modeler page takes to open, and what it costs the server.

- Server time: ``GET /studio/normal_change`` through Flask's test client in this process (no network, no
  browser): the session check, the model, its latest version with its forms and decision table, the services
  and the template. The check the page runs (``POST /studio/normal_change/validate``, the deploy checks on
  the diagram it shows) is timed the same way.
- In Chromium: the page behind gunicorn (one worker, as W1 runs it), opened by a signed-in owner, from the
  navigation until bpmn-js has drawn the diagram (the page marks ``data-ready``). Cold: a new browser
  context each time (nothing cached); warm: the same context again (the bundles come from its cache). The
  server's CPU for those loads is read from the kernel's counters.
- What the page downloads: the scripts and stylesheets it links, gzip level 6; the decision editor's bundle
  is fetched only when someone opens the decision tables.

Needs Playwright and Chromium (``apt-get install chromium``) for the browser figures; without them those are
left out and the rest still runs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import time
from typing import Any

from bench.common import ROOT, Server, calibration_ms, fresh_sqlite, progress, summary
from bench.w5_web import PASSWORD, make_app, page_weight, timed

REQUESTS = 100
BROWSER_LOADS = 10
PAGE = "/studio/normal_change"


def add_owner(app: Any) -> None:
    from roles import accounts

    cf = app.extensions["changeflow"]
    with cf.database.transaction() as session:
        user = accounts.create_user(session, "owner", now=cf.now())
        accounts.grant(session, user, "owner", "change", granted_by="bench", now=cf.now())
        accounts.set_password(session, user, PASSWORD, now=cf.now())


def signed_in_client(app: Any) -> tuple[Any, str]:
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/sign-in").get_data(as_text=True)).group(1)
    assert client.post("/sign-in", data={"csrf_token": token, "username": "owner",
                                         "password": PASSWORD}).status_code == 302
    # Signing in starts a new session with a new CSRF token: the page hands it to its script.
    page = client.get(PAGE).get_data(as_text=True)
    return client, re.search(r'"csrf": "([^"]+)"', page).group(1)


def server_side(app: Any) -> dict[str, Any]:
    client, token = signed_in_client(app)
    samples: list[float] = []
    for _ in range(10):
        timed(client, PAGE, [])
    for _ in range(REQUESTS):
        response = timed(client, PAGE, samples)
    html = response.get_data(as_text=True)
    results: dict[str, Any] = {"page": summary(samples)}
    progress(f"  modeler page, server: median {results['page']['median_ms']:.2f} ms, "
             f"p95 {results['page']['p95_ms']:.2f} ms")
    body = json.dumps({"bpmn": (ROOT / "bpmn" / "change" / "normal_change.bpmn").read_text()})
    checks: list[float] = []
    for n in range(30):
        began = time.perf_counter()
        answer = client.post(f"{PAGE}/validate", data=body, content_type="application/json",
                             headers={"X-CSRF-Token": token})
        if n >= 5:
            checks.append(time.perf_counter() - began)
        assert answer.status_code == 200, answer.get_data(as_text=True)
    results["check"] = summary(checks)
    progress(f"  the page's check (validate normal_change): median {results['check']['median_ms']:.1f} ms")
    weights = page_weight(client, html)
    decisions = b"".join(client.get(f"/assets/studio-decisions.{kind}").get_data() for kind in ("js", "css"))
    results["weight"] = {"js_css_gzip_bytes": sum(weights.values()), "assets": weights,
                         "html_gzip_bytes": len(gzip.compress(html.encode(), compresslevel=6)),
                         "decision_editor_gzip_bytes": len(gzip.compress(decisions, compresslevel=6))}
    progress(f"  JS+CSS (gzip): {results['weight']['js_css_gzip_bytes'] / 1024:.1f} KB, decision editor on demand "
             f"{results['weight']['decision_editor_gzip_bytes'] / 1024:.1f} KB")
    return results


def in_browser(url: str) -> dict[str, Any] | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        progress("  Playwright is not installed: no browser figures")
        return None
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        progress("  Chromium is not installed: no browser figures")
        return None
    server = Server(url)
    base = f"http://127.0.0.1:{server.port}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            first = browser.new_context(base_url=base, viewport={"width": 1360, "height": 900})
            page = first.new_page()
            page.goto("/sign-in")
            page.fill("#username", "owner")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            state = first.storage_state()
            results = {}
            viewport = {"width": 1360, "height": 900}
            for label in ("cold", "warm"):
                samples: list[float] = []
                cpu_before = server.cpu_seconds()
                context = browser.new_context(base_url=base, storage_state=state, viewport=viewport)
                for n in range(BROWSER_LOADS + 1):
                    if label == "cold":
                        context.close()
                        context = browser.new_context(base_url=base, storage_state=state, viewport=viewport)
                    tab = context.new_page()
                    began = time.perf_counter()
                    tab.goto(PAGE)
                    tab.wait_for_selector(".studio[data-ready=true]", timeout=60_000)
                    if n or label == "cold":  # the first warm load fills the cache
                        samples.append(time.perf_counter() - began)
                    tab.close()
                context.close()
                cpu_ms = (server.cpu_seconds() - cpu_before) * 1000 / (BROWSER_LOADS + 1)
                results[label] = {**summary(samples), "server_cpu_ms_per_load": cpu_ms}
                progress(f"  in Chromium, {label}: median {results[label]['median_ms']:.0f} ms, p95 "
                         f"{results[label]['p95_ms']:.0f} ms, server CPU {cpu_ms:.1f} ms per load")
            browser.close()
            return results
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    url = fresh_sqlite("studio")
    progress("Studio: the modeler page")
    results: dict[str, Any] = {"calibration_ms_before": calibration_ms()}
    app = make_app(url)  # migrates and deploys bpmn/
    add_owner(app)
    results["server"] = server_side(app)
    app.extensions["changeflow"].database.dispose()
    results["browser"] = in_browser(url)
    results["calibration_ms_after"] = calibration_ms()
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))

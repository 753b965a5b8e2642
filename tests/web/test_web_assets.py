"""The committed diagram viewer bundle matches its sources, and the app serves every asset itself.

web/assets/build.mjs records the SHA-256 of the bundle's inputs beside the bundle; this recomputes it the same
way (web/assets/digest.mjs). When it fails, run `make assets` (Node 20+, npm) and commit web/static/.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.conftest import ROOT

ASSETS = ROOT / "web" / "assets"
STATIC = ROOT / "web" / "static"
INPUTS = ("package.json", "package-lock.json", "build.mjs", "digest.mjs")


def sources_digest(root: Path) -> str:
    files = [root / name for name in INPUTS] + [path for path in (root / "src").rglob("*") if path.is_file()]
    names = sorted(path.relative_to(root).as_posix() for path in files)
    digest = hashlib.sha256()
    for name in names:
        digest.update(f"{name}\n".encode())
        digest.update((root / name).read_bytes())
        digest.update(b"\n")
    return digest.hexdigest()


def test_the_committed_bundle_was_built_from_the_committed_sources():
    recorded = (STATIC / "diagram-viewer.sources.sha256").read_text().strip()

    assert recorded == sources_digest(ASSETS), "web/assets changed: run `make assets` and commit web/static/"


def test_the_lockfile_pins_what_package_json_asks_for():
    import json

    package = json.loads((ASSETS / "package.json").read_text())
    lock = json.loads((ASSETS / "package-lock.json").read_text())

    for name, version in package["devDependencies"].items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


def test_the_bundle_is_the_bpmn_js_viewer_with_our_marks():
    script = (STATIC / "diagram-viewer.js").read_text()

    assert "cf-completed" in script and "cf-waiting" in script and "cf-focus" in script
    assert "importXML" in script and len(script) > 100_000
    assert ".djs-container" in (STATIC / "diagram-viewer.css").read_text()


def test_the_app_serves_the_bundle_to_anyone(client):
    for name in ("diagram-viewer.js", "diagram-viewer.css", "app.css", "app.js"):
        response = client.get(f"/assets/{name}")
        assert response.status_code == 200 and response.get_data() == (STATIC / name).read_bytes()
        response.close()

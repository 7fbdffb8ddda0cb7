"""The daily report opened from the api-server in headless Chromium: its charts decode and
every Chinese character on the page is drawn with a real glyph (no missing-glyph boxes).

Chromium cannot send a bearer token by itself, so it goes through a small local proxy that
adds the viewer's ``Authorization`` header (what the UI's cookie does for a signed-in user)
and appends a probe script to HTML pages. The probe, run by the browser after ``load``:
checks every ``<img>`` decoded, and draws each distinct Han character of the page in the
page's font next to an unassigned code point (U+0378, which every font draws as its
missing-glyph box): a character drawn like the box, or not at all, is missing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

PROBE = """<script>
window.addEventListener('load', () => {
  const images = [...document.images].map(i => (i.complete && i.naturalWidth > 0) ? i.naturalWidth + 'x' + i.naturalHeight : 'broken');
  const han = [...new Set(document.body.innerText.match(/[\\u4e00-\\u9fff]/g) || [])];
  const font = getComputedStyle(document.body).fontFamily;
  const canvas = document.createElement('canvas'); canvas.width = 48; canvas.height = 48;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const draw = ch => {
    ctx.clearRect(0, 0, 48, 48); ctx.font = '32px ' + font; ctx.fillStyle = '#000'; ctx.fillText(ch, 4, 38);
    const px = ctx.getImageData(0, 0, 48, 48).data; let bits = '', ink = 0;
    for (let i = 3; i < px.length; i += 4) { const on = px[i] > 127; bits += on ? '1' : '0'; ink += on; }
    return {bits, ink};
  };
  const box = draw('\\u0378').bits;
  const missing = han.filter(ch => { const g = draw(ch); return g.ink === 0 || g.bits === box; });
  const out = document.createElement('pre'); out.id = 'probe';
  out.textContent = JSON.stringify({images, han: han.length, missing, font});
  document.body.appendChild(out);
});
</script>"""


class AuthProxy:
    """Forwards GETs to the api-server with a bearer token; appends PROBE to HTML."""

    def __init__(self, upstream: str, token: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                req = urllib.request.Request(upstream + self.path, headers={"Authorization": f"Bearer {token}"})
                try:
                    with urllib.request.urlopen(req, timeout=60) as resp:
                        status, ctype, body = resp.status, resp.headers.get("Content-Type", ""), resp.read()
                except urllib.error.HTTPError as err:
                    status, ctype, body = err.code, err.headers.get("Content-Type", ""), err.read()
                if ctype.startswith("text/html"):
                    body = body.replace(b"</body>", PROBE.encode() + b"</body>")
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def proxy(api_server, viewer_token):
    p = AuthProxy(api_server.base, viewer_token)
    yield p
    p.stop()


def open_in_chromium(url: str, profile, env: dict | None = None) -> dict:
    """The probe's findings for ``url`` (Chromium's DOM after load)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "chromium is not installed: run scripts/install-deps.sh test"
    res = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         "--virtual-time-budget=15000", "--dump-dom", url],
        check=True, capture_output=True, timeout=120, text=True, env=env,
    )
    found = re.search(r'<pre id="probe">(.*?)</pre>', res.stdout, re.S)
    assert found, res.stdout[-2000:] + res.stderr[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def test_report_page_renders_its_charts_and_chinese_text(proxy, ui_store, ui_reports, tmp_path):
    day = ui_reports["daily"]
    doc = ui_store["db"]["reports"].find_one({"kind": "daily", "report_date": day})
    charts = doc["html"].count('src="data:image/png;base64,')
    assert charts >= 5
    probe = open_in_chromium(f"{proxy.url}/market-data/reports/daily/{day}", tmp_path / "profile")
    assert len(probe["images"]) == charts and "broken" not in probe["images"], probe
    assert probe["han"] > 50  # the report is in Chinese
    assert probe["missing"] == [], probe


def test_the_pages_of_the_section_draw_their_chinese_text(proxy, tmp_path):
    for page in ("reports", "health", "calendar"):
        probe = open_in_chromium(f"{proxy.url}/market-data/{page}", tmp_path / page)
        assert probe["han"] > 3 and probe["missing"] == [], (page, probe)


def test_the_probe_sees_missing_glyphs_when_no_cjk_font_is_installed(proxy, ui_reports, tmp_path):
    """The check itself can fail: with fontconfig limited to a Latin-only font, Chinese is boxes."""
    latin = next((p for p in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu") if shutil.os.path.isdir(p)), None)
    if latin is None:
        pytest.fail("no DejaVu fonts directory to build a Latin-only font configuration from")
    conf = tmp_path / "fonts.conf"
    conf.write_text(f'<?xml version="1.0"?><fontconfig><dir>{latin}</dir><cachedir>{tmp_path / "fc-cache"}</cachedir></fontconfig>')
    env = {**__import__("os").environ, "FONTCONFIG_FILE": str(conf)}
    probe = open_in_chromium(f"{proxy.url}/market-data/reports/daily/{ui_reports['daily']}", tmp_path / "profile", env)
    assert probe["han"] > 50 and len(probe["missing"]) == probe["han"], probe

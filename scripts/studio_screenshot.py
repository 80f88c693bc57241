"""Take the studio's screenshots for the docs: `promptism serve` with the shipped models, driven in
Debian's headless Chromium (Playwright). studio.png: the page once a prompt's pictures are in;
studio-queue.png: two more jobs, one forming (its step preview) and one waiting in line;
studio-lightbox.png: a picture opened in the lightbox.

    .venv/bin/python scripts/studio_screenshot.py [--prompt TEXT] [--out-dir docs]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompt", default="two yellow stars and a blue box on a gray background", help="what to draw")
    ap.add_argument("--second", default="a red circle above a green triangle", help="what the queued jobs draw")
    ap.add_argument("--out-dir", default=str(ROOT / "docs"), help="the folder the PNGs are written to")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data:
        cmd = [sys.executable, "-m", "promptism.cli", "serve", "--port", str(port), "--data-dir", data]
        server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 120
            while True:
                try:
                    if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.5)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
                page = browser.new_page(viewport={"width": 1100, "height": 760}, bypass_csp=True)
                page.goto(url + "/")
                page.wait_for_selector("#size option", state="attached")
                page.select_option("#n", "4")
                page.fill("#prompt", args.prompt)
                page.click("#generate")
                page.wait_for_function(
                    "document.querySelectorAll('#results img').length === 4 && "
                    "[...document.querySelectorAll('#results img')].every(i => i.complete && i.naturalWidth)",
                    timeout=300_000,
                )
                page.wait_for_timeout(500)
                out = Path(args.out_dir)
                page.screenshot(path=str(out / "studio.png"))
                page.fill("#prompt", args.second)
                page.keyboard.press("Control+Enter")
                page.fill("#prompt", args.prompt)
                page.keyboard.press("Control+Enter")
                page.wait_for_selector("#queue .job .preview:not([hidden])", timeout=300_000)
                page.wait_for_timeout(1500)  # a few steps into the picture
                page.screenshot(path=str(out / "studio-queue.png"))
                page.wait_for_function("document.querySelectorAll('#queue .job').length === 0", timeout=600_000)
                page.wait_for_timeout(500)
                page.click("#results .picture:first-child img")
                page.wait_for_timeout(300)
                page.screenshot(path=str(out / "studio-lightbox.png"))
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"wrote studio.png, studio-queue.png and studio-lightbox.png in {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

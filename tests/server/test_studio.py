"""The web studio in a real browser: Playwright driving Debian's Chromium (`make test` installs it)
against a running server with tiny models. Types a prompt, waits for the grid and its live
progress, makes variations, paints a mask and repaints it, and finds the history again after a
restart. Keeps a screenshot as a test artefact (artifacts/studio.png)."""

import io
import shutil
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from server_helpers import Running, _config

from promptism.responsible import watermark

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def _picture(url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(httpx.get(url).content)).convert("RGB"), np.int16)


def _settled_box(page, selector: str) -> dict:
    """The element's box once it has stopped moving."""
    box = None
    for _ in range(50):
        page.wait_for_timeout(100)
        now = page.locator(selector).bounding_box()
        if now == box:
            return box
        box = now
    raise AssertionError(f"{selector} kept moving")


@pytest.mark.slow
def test_studio_generates_varies_repaints_and_keeps_its_history(tiny, tmp_path):
    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), (
        "Chromium is missing: `make test` installs it (apt-get install -y chromium)"
    )
    from playwright.sync_api import sync_playwright

    # enough steps that a job runs for a moment (~1 s on an idle 2-core machine; 60 steps took
    # 0.1 s and the page never saw a progress line), so that its live progress can be seen
    config = _config(tiny, tmp_path, defaults={"steps": 600, "prior_steps": 600, "upsampler_steps": 2})
    server = Running(config)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            # under the server's content security policy the studio's own script runs (it fills the
            # size menu from /api/info) and nothing is refused
            strict = browser.new_page()
            refused = []
            strict.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
            strict.goto(server.url + "/")
            strict.wait_for_selector("#size option", state="attached")
            assert not refused, refused
            strict.close()
            # Playwright evaluates its waiting predicates as strings, which that policy forbids
            page = browser.new_page(viewport={"width": 1000, "height": 900}, bypass_csp=True)
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server.url + "/")
            page.wait_for_selector("#size option", state="attached")
            page.select_option("#n", "2")
            page.fill("#prompt", "a red circle above a blue square")
            page.click("#generate")
            # live progress: a stage and its step count while the job runs
            page.wait_for_function(
                "/(prior|decoder) \\d+\\/\\d+/.test(document.querySelector('#queue .job-text')?.textContent)",
                timeout=60_000,
            )
            page.wait_for_function(
                "document.querySelectorAll('#results img').length === 2 && "
                "[...document.querySelectorAll('#results img')].every(i => i.complete && i.naturalWidth)",
                timeout=120_000,
            )
            assert page.eval_on_selector_all("#results img", "els => els.map(e => e.naturalWidth)") == [32, 32]
            seeds = page.eval_on_selector_all("#results .meta > span", "els => els.map(e => e.textContent)")
            assert len(seeds) == 2 and all(s.startswith("seed ") for s in seeds)
            # each picture's energy, and the session's under the queue
            energy = page.eval_on_selector_all("#results .meta .energy", "els => els.map(e => e.textContent)")
            assert len(energy) == 2 and all(e.endswith("g CO₂e") and " Wh, " in e for e in energy)
            assert "This session:" in page.text_content("#energy") and "for 2 pictures" in page.text_content("#energy")
            first = page.get_attribute("#results .picture:first-child img", "data-name")
            assert page.get_attribute("#results .picture:first-child a", "download") == first

            page.click("#results .picture:first-child button.vary")
            page.wait_for_function(
                "document.querySelector('#results-title').textContent.startsWith('variation')", timeout=120_000
            )
            page.wait_for_function("document.querySelectorAll('#results img').length === 2")

            # paint a stroke across the top of the first variation and repaint it
            source = page.get_attribute("#results .picture:first-child img", "data-name")
            page.click("#results .picture:first-child button.edit")
            page.wait_for_selector("#editor:not([hidden])")
            page.locator("#brush").fill("40")  # the widest brush: a stroke about 5 px wide on 32 px
            box = _settled_box(page, "#canvas")  # the page scrolls to the editor
            page.mouse.move(box["x"] + 0.1 * box["width"], box["y"] + 0.15 * box["height"])
            page.mouse.down()
            page.mouse.move(box["x"] + 0.9 * box["width"], box["y"] + 0.15 * box["height"], steps=12)
            page.mouse.up()
            page.fill("#edit-prompt", "a yellow star")
            page.click("#repaint")
            page.wait_for_function(
                "document.querySelector('#results-title').textContent.startsWith('edit')", timeout=120_000
            )
            page.wait_for_function(
                "[...document.querySelectorAll('#results img')].every(i => i.complete && i.naturalWidth)"
            )
            edited = page.get_attribute("#results .picture:first-child img", "data-name")
            before, after = _picture(f"{server.url}/images/{source}"), _picture(f"{server.url}/images/{edited}")
            # below it, the source's pixels (marked again when the mark was not read in them)
            remarked = np.asarray(watermark.add(Image.fromarray(before.astype(np.uint8))), before.dtype)
            unmarked = before if np.array_equal(before[12:], after[12:]) else remarked
            changed = (unmarked != after).any(axis=2)
            # the stroke (rows 2 to 7 of 32) changed; below it nothing did
            assert changed[:9].mean() > 0.3 and changed[12:].mean() == 0.0
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "studio.png"), full_page=True)
            assert not errors, errors
            browser.close()
        jobs = httpx.get(server.url + "/api/jobs").json()["jobs"]
        assert [j["kind"] for j in jobs] == ["edit", "variation", "generate"]
        assert all(j["status"] == "done" for j in jobs) and jobs[0]["params"]["source"] == source
    finally:
        server.stop()

    # the history survives a restart and the page shows it
    server = Running(_config(tiny, tmp_path))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(bypass_csp=True)
            page.goto(server.url + "/")
            page.wait_for_function("document.querySelectorAll('#history figure img').length === 6", timeout=30_000)
            captions = page.eval_on_selector_all("#history figcaption", "els => els.map(e => e.textContent)")
            assert captions[-1] == "generate: a red circle above a blue square"
            browser.close()
    finally:
        server.stop()


@pytest.mark.parametrize("path", ["/", "/static/studio.js", "/static/studio.css"])
def test_studio_files_are_served(tiny, tmp_path, path):
    server = Running(_config(tiny, tmp_path))
    try:
        r = httpx.get(server.url + path)
        assert r.status_code == 200 and len(r.content) > 500
    finally:
        server.stop()


@contextmanager
def _studio(config):
    """A server on ``config`` and a Chromium page on its studio, ready to use: (server, page)."""
    from playwright.sync_api import sync_playwright

    server = Running(config)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(bypass_csp=True)  # Playwright's waits evaluate strings: CSP forbids them
            page.goto(server.url + "/")
            page.wait_for_selector("#size option", state="attached")
            yield server, page
            browser.close()
    finally:
        server.stop()


def _generate(page, prompt: str, n: int) -> None:
    page.select_option("#n", str(n))
    page.fill("#prompt", prompt)
    page.click("#generate")


def test_the_studio_cancels_a_running_job(tiny, tmp_path):
    # a job long enough to be caught running
    config = _config(tiny, tmp_path, defaults={"steps": 1000, "prior_steps": 1000, "upsampler_steps": 1000})
    with _studio(config) as (server, page):
        _generate(page, "a red circle", 4)
        page.wait_for_function(
            "/(prior|decoder) \\d+\\/\\d+/.test(document.querySelector('#queue .job-text')?.textContent)",
            timeout=60_000,
        )
        page.click("#queue .job button.cancel")
        page.wait_for_function("document.querySelector('#error').textContent.includes('cancelled')", timeout=60_000)
        job = httpx.get(server.url + "/api/jobs").json()["jobs"][0]
        assert job["status"] == "cancelled" and not job["files"]
        assert server.service.queue.waiting == 0 and server.service.queue.running == 0


def test_the_studio_remembers_refills_shows_failures_opens_pictures_and_goes_dark(tiny, tmp_path):
    policy = tmp_path / "policy.txt"
    policy.write_text("re:\\bforbidden\\b\n")
    prompt = "a red circle above a blue square"
    pictures = "document.querySelectorAll('#results img').length === 2"
    with _studio(_config(tiny, tmp_path, policy=str(policy))) as (server, page):
        _generate(page, prompt, 2)
        page.wait_for_function(pictures, timeout=120_000)
        assert page.get_attribute("#download-all", "download").endswith(".zip")  # the whole job as a zip
        # a picture opens in the lightbox, and Escape closes it
        page.click("#results .picture:first-child img")
        assert page.is_visible("#lightbox")
        page.keyboard.press("Escape")
        assert not page.is_visible("#lightbox")
        # a reload keeps the form and the last results
        page.reload()
        page.wait_for_function(pictures, timeout=30_000)
        assert page.input_value("#prompt") == prompt
        # a refused prompt shows its reason in the history
        _generate(page, "a forbidden thing", 2)
        page.wait_for_selector("#error:not([hidden])")
        page.wait_for_function(
            "[...document.querySelectorAll('#history .failed')].some(f => f.textContent.startsWith('refused: policy'))",
            timeout=30_000,
        )
        # a history tile brings its prompt and seed back into the form
        page.click("#history figure:has(img)")
        assert page.input_value("#prompt") == prompt
        seed = httpx.get(server.url + "/api/jobs").json()["jobs"][-1]["seeds"][0]
        assert page.input_value("#seed") == str(seed)
        # dark mode follows the system's
        page.emulate_media(color_scheme="dark")
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(21, 21, 23)"


def test_the_mask_editor_undoes_and_erases(tiny, tmp_path):
    white = "(() => { const m = editor.mask; const d = m.getContext('2d').getImageData(0, 0, m.width, m.height).data;"
    white += " let n = 0; for (let i = 0; i < d.length; i += 4) n += d[i] > 127; return n; })()"
    with _studio(_config(tiny, tmp_path)) as (_, page):
        _generate(page, "a red circle", 4)
        page.wait_for_function("document.querySelectorAll('#results img').length === 4", timeout=120_000)
        page.click("#results .picture:first-child button.edit")
        page.wait_for_selector("#editor:not([hidden])")
        page.locator("#brush").fill("40")

        def stroke(y: float) -> None:
            box = _settled_box(page, "#canvas")
            page.mouse.move(box["x"] + 0.1 * box["width"], box["y"] + y * box["height"])
            page.mouse.down()
            page.mouse.move(box["x"] + 0.9 * box["width"], box["y"] + y * box["height"], steps=8)
            page.mouse.up()

        stroke(0.2)
        one = page.evaluate(white)
        stroke(0.7)
        two = page.evaluate(white)
        assert 0 < one < two
        page.click("#undo")
        assert page.evaluate(white) == one
        page.check("#eraser")  # the eraser takes the first stroke back out
        stroke(0.2)
        assert page.evaluate(white) < one
        page.keyboard.press("Control+z")
        assert page.evaluate(white) == one


def test_the_studio_queues_several_jobs_with_previews_and_walks_deletes_and_searches_pictures(tiny, tmp_path):
    # jobs long enough (about a second each) to be seen waiting and forming
    config = _config(tiny, tmp_path, defaults={"steps": 300, "prior_steps": 2, "upsampler_steps": 2})
    with _studio(config) as (server, page):
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: d.accept())  # "Delete …? This cannot be undone."
        assert page.eval_on_selector_all("#model option", "os => os.map(o => o.value)") == [
            "promptism-unclip-world",
            "vqgan-clip",
            "dalle-mini",
            "stylegan",
        ]
        sizes = "os => os.map(o => o.value)"
        page.select_option("#model", "vqgan-clip")  # the size menu follows the model
        assert page.eval_on_selector_all("#size option", sizes)[:3] == ["64x64", "128x128", "256x256"]
        page.select_option("#model", "promptism-unclip-world")
        assert page.eval_on_selector_all("#size option", sizes)[0] == "32x32"
        _generate(page, "a red circle", 2)
        page.fill("#prompt", "a blue square")
        page.keyboard.press("Control+Enter")  # a second job while the first runs
        page.wait_for_function("document.querySelectorAll('#queue .job').length === 2", timeout=30_000)
        page.wait_for_function(
            "[...document.querySelectorAll('#queue .job-text')].some(t => t.textContent.includes('1st in line'))",
            timeout=30_000,
        )
        page.wait_for_selector("#queue .job .preview:not([hidden])", timeout=60_000)  # a step preview
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "studio-queue.png"), full_page=True)
        page.wait_for_function("document.querySelectorAll('#queue .job').length === 0", timeout=120_000)
        page.wait_for_function("document.querySelector('#results-title').textContent.startsWith('a blue square')")
        # the lightbox walks the job's pictures, both ways round, and zooms
        page.click("#results .picture:first-child img")
        assert page.text_content("#lightbox-caption").endswith("(1 of 2)")
        page.keyboard.press("ArrowRight")
        assert page.text_content("#lightbox-caption").endswith("(2 of 2)")
        page.keyboard.press("ArrowRight")
        assert page.text_content("#lightbox-caption").endswith("(1 of 2)")
        page.keyboard.press("ArrowLeft")
        assert page.text_content("#lightbox-caption").endswith("(2 of 2)")
        page.click("#lightbox-img")
        assert "zoomed" in page.get_attribute("#lightbox-img", "class")
        page.screenshot(path=str(ARTIFACTS / "studio-lightbox.png"))
        # Delete takes the open picture away, here and on the server
        page.click("#lb-delete")
        page.wait_for_function("document.querySelectorAll('#results img').length === 1")
        assert page.text_content("#lightbox-caption").endswith("(1 of 1)")
        blue = httpx.get(server.url + "/api/jobs", params={"q": "blue"}).json()["jobs"][0]
        assert len(blue["files"]) == 1
        # variations from the lightbox are titled by the prompt their source was drawn from
        page.click("#lb-vary")
        page.wait_for_function(
            "document.querySelector('#results-title').textContent.startsWith('variation of “a blue square”')",
            timeout=120_000,
        )
        # the history is a gallery of every picture, searched by prompt
        page.wait_for_function("document.querySelectorAll('#history figure img').length === 1 + 2 + 2")
        assert len(httpx.get(server.url + "/api/jobs").json()["jobs"]) == 3  # Ctrl+Enter queued one job, not two
        page.fill("#search", "red")
        page.wait_for_function(
            "[...document.querySelectorAll('#history figcaption')].map(c => c.textContent)"
            ".join('|') === 'generate: a red circle|generate: a red circle'"
        )
        page.fill("#search", "green")
        page.wait_for_function("document.querySelector('#history').textContent.includes('Nothing in the history')")
        # a long history comes a page at a time
        for i in range(30):
            server.service.history.add("generate", {"prompt": f"old {i}"}, status="refused", error="policy: test")
        page.fill("#search", "")
        page.wait_for_selector("#more:not([hidden])")
        before = page.eval_on_selector_all("#history figure", "fs => fs.length")
        page.click("#more")
        page.wait_for_function(f"document.querySelectorAll('#history figure').length > {before}")
        # Dream, on a picture of the results: DeepDream on it, titled by what it was drawn from
        page.click("#results .picture:first-child .dream")
        page.wait_for_function(
            "document.querySelector('#results-title').textContent.startsWith('dream of “a blue square”')",
            timeout=120_000,
        )
        assert not errors, errors

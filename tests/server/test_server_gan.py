"""`promptism serve` runs the GAN as model "stylegan" (its styles guided by the prompt) through
OpenAI's generations endpoint, and answers the studio's knobs panel: the named knobs and a picture
for every position of the sliders, in the API and in the browser."""

import base64
import io

import httpx
import numpy as np
import pytest
from PIL import Image
from server_helpers import Running, _config, assert_clean_4xx


@pytest.fixture
def server(tiny, tiny_gan, tmp_path):
    s = Running(_config(tiny, tmp_path, gan=str(tiny_gan / "run" / "model"), guide_steps=3))
    yield s
    s.stop()


def _image(content: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(content)).convert("RGB"), np.int16)


def test_stylegan_generates_pictures_guided_by_the_prompt(server, tiny_gan):
    with httpx.Client(base_url=server.url, timeout=120) as http:
        body = {"model": "stylegan", "prompt": "a red circle", "n": 2, "seed": 4, "response_format": "b64_json"}
        r = http.post("/v1/images/generations", json=body)
        assert r.status_code == 200, r.text
        pics = [Image.open(io.BytesIO(base64.b64decode(d["b64_json"]))) for d in r.json()["data"]]
        assert [p.size for p in pics] == [(64, 64)] * 2
        assert '"generator": "stylegan"' in pics[0].text["promptism:settings"]
        r = http.post("/v1/images/generations", json={**body, "size": "32x32"})
        assert r.status_code == 400 and "not available for 'stylegan'" in r.json()["error"]["message"]


def test_the_knobs_are_named_and_draw_a_picture_for_every_slider_position(server):
    with httpx.Client(base_url=server.url, timeout=120) as http:
        info = http.get("/api/knobs").json()
        assert len(info["knobs"]) == 8 and all(" → " in k["name"] for k in info["knobs"])
        assert info["size"] == 16 and info["range"] == 4.0
        plain = http.post("/api/knobs/draw", json={"seed": 3})
        assert plain.status_code == 200 and plain.headers["content-type"] == "image/png"
        again = _image(http.post("/api/knobs/draw", json={"seed": 3, "amounts": [0] * 8}).content)
        assert np.array_equal(_image(plain.content), again)  # sliders at 0 draw the seed itself
        moved = _image(http.post("/api/knobs/draw", json={"seed": 3, "amounts": [3, 0, -2]}).content)
        assert np.abs(moved - again).mean() > 0.5
        for bad, field in [
            ({"seed": -1}, "seed"),
            ({"amounts": [9]}, "amounts"),
            ({"amounts": [0] * 9}, "amounts"),
            ({"amounts": "up"}, "amounts"),
            ({"truncation": 3}, "truncation"),
        ]:
            r = http.post("/api/knobs/draw", json=bad)
            assert_clean_4xx(r, field)
            assert r.json()["error"]["param"] == field


def test_the_studio_knobs_panel_redraws_as_a_slider_moves(server):
    from playwright.sync_api import sync_playwright
    from test_studio import ARGS, CHROMIUM

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(bypass_csp=True)
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url + "/")
        page.click("#knobs-details summary")
        page.wait_for_selector("#knobs-sliders input", timeout=60_000)
        assert page.locator("#knobs-sliders input").count() == 8
        page.wait_for_function("document.querySelector('#knobs-img').src.startsWith('blob:')", timeout=30_000)
        first = page.eval_on_selector("#knobs-img", "i => i.src")
        page.eval_on_selector("#knobs-sliders input", "s => { s.value = 3; s.dispatchEvent(new Event('input')); }")
        page.wait_for_function(f"document.querySelector('#knobs-img').src !== {first!r}", timeout=30_000)
        assert page.locator("#knobs-sliders output").first.text_content() == "3.0"
        assert not errors, errors
        browser.close()

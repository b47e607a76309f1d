"""The web page in a real browser: Debian's chromium driven by Playwright, headless, against a
real `mcdenoise serve` on 127.0.0.1. Upload an EXR, see both previews, move the exposure
slider, use the split view, download the result and read it back as an EXR.

Needs the `chromium` Debian package (apt-get install chromium) and the `playwright` Python
package; no `playwright install` (no browser download).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from mcdenoise.core.color import preview_rgb8
from mcdenoise.core.exr import read_frame
from service_support import KEY, exr_bytes, keyed_server, make_frame

CHROMIUM = os.environ.get("MCDENOISE_CHROMIUM", "/usr/bin/chromium")
# Flags that let Debian's chromium run headless in containers and CI (no sandbox, no GPU,
# no /dev/shm).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    with keyed_server(folder) as base_url:
        yield base_url, folder


def canvas_stats(page, selector: str) -> dict:
    """Size of a canvas and the mean of its RGB, as the page drew it."""
    return page.eval_on_selector(selector, """canvas => {
        const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        let sum = 0;
        for (let i = 0; i < data.length; i += 4) sum += data[i] + data[i + 1] + data[i + 2];
        return {width: canvas.width, height: canvas.height,
                mean: sum / Math.max(1, 3 * canvas.width * canvas.height)};
    }""")


def canvas_pixels(page, selector: str) -> np.ndarray:
    """The RGBA pixels of a canvas as the page drew it, (H, W, 4) uint8."""
    shape_and_data = page.eval_on_selector(selector, """canvas => [canvas.height, canvas.width,
        Array.from(canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data)]""")
    height, width, data = shape_and_data
    return np.asarray(data, np.uint8).reshape(height, width, 4)


def test_upload_preview_exposure_split_download(browser, site, tmp_path):
    base_url, folder = site
    frame = make_frame(48, 80, seed=2, extra={"spec.R": np.full((48, 80), 0.25, np.float16)})
    upload = folder / "beauty_0042.exr"
    upload.write_bytes(exr_bytes(frame, folder, "beauty_0042.exr"))

    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(base_url + "/")
    # The server wants a key: the page says so, and takes one.
    page.wait_for_function("document.getElementById('status').textContent.includes('API key')")
    page.fill("#key", KEY)
    page.dispatch_event("#key", "change")
    page.wait_for_function("document.getElementById('model').options.length > 0")

    page.set_input_files("#file", str(upload))
    page.wait_for_selector("body[data-state=done]", timeout=60_000)
    assert "denoised with tiny" in page.inner_text("#status")
    noisy, denoised = canvas_stats(page, "#noisy"), canvas_stats(page, "#denoised")
    assert (noisy["width"], noisy["height"]) == (80, 48)
    assert (denoised["width"], denoised["height"]) == (80, 48)
    assert noisy["mean"] > 1
    drawn = {c: canvas_pixels(page, f"#{c}")[..., :3].astype(int) for c in ("noisy", "denoised")}
    box = page.locator("#denoised").bounding_box()
    assert box["width"] > 0 and box["height"] > 0

    # Exposure: +3 EV brightens the drawn preview without another request.
    page.fill("#exposure", "3")
    page.dispatch_event("#exposure", "input")
    assert page.inner_text("#exposure-value") == "3.0 EV"
    assert canvas_stats(page, "#noisy")["mean"] > noisy["mean"] + 10

    # Split view: left of the line is the noisy preview, right of it the denoised one.
    page.check("input[name=view][value=split]")
    assert page.is_visible("#compare") and not page.is_visible("#noisy")
    page.fill("#split", "50")
    page.dispatch_event("#split", "input")
    compare, left, right = (canvas_pixels(page, f"#{c}") for c in ("compare", "noisy", "denoised"))
    assert compare.shape == (48, 80, 4)
    np.testing.assert_array_equal(compare[:, :39], left[:, :39])
    np.testing.assert_array_equal(compare[:, 40:], right[:, 40:])
    assert (compare[:, 39, :3] == (255, 204, 0)).all()  # the line between them
    page.fill("#split", "100")
    page.dispatch_event("#split", "input")
    np.testing.assert_array_equal(canvas_pixels(page, "#compare")[:, :79], left[:, :79])

    with page.expect_download() as download_info:
        page.click("#download")
    download = download_info.value
    assert download.suggested_filename == "beauty_0042_denoised.exr"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    result = read_frame(path)
    assert result.color.shape == (48, 80, 3) and np.isfinite(result.color).all()
    np.testing.assert_array_equal(result.extra["spec.R"], frame.extra["spec.R"])
    # At 0 EV the page drew exactly the project's tonemap of the input and of the result the
    # server sent (to the rounding of a canvas byte).
    for name, color in (("noisy", frame.color), ("denoised", result.color)):
        assert np.abs(drawn[name] - preview_rgb8(color)).max() <= 1, name
    assert not errors
    context.close()


def test_page_shows_the_servers_error(browser, site):
    base_url, folder = site
    page = browser.new_page()
    page.goto(base_url + "/")
    page.fill("#key", KEY)
    page.dispatch_event("#key", "change")
    bad = folder / "not_an.exr"
    bad.write_bytes(b"this is not an EXR file")
    page.set_input_files("#file", str(bad))
    page.wait_for_selector("body[data-state=error]", timeout=30_000)
    assert "not an OpenEXR file" in page.inner_text("#status")
    page.close()

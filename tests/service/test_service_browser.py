"""The web page in a real browser: Debian's chromium driven by Playwright, headless, against a
real `mcdenoise serve` on 127.0.0.1 (a slowed server in a thread for the busy-server case).

A frame of known values (colour, albedo, normal, alpha, depth and one extra layer) goes
through the job API; the page must draw it at full resolution, zoom and pan both images
together, read out the EXR's values under the cursor, flip, split and difference the two
images, show each layer with its own mapping, apply exposure exactly, count down and retry a
busy server, and take several files at once.

Set MCDENOISE_SCREENSHOTS=DIR to save a screenshot of each view there (the committed ones are
in benchmarks/results/service_page/); that run also serves the shipped model and uses it, so
the denoised side looks like one.

Needs the `chromium` Debian package (apt-get install chromium) and the `playwright` Python
package; no `playwright install` (no browser download).
"""
from __future__ import annotations

import base64
import os
import re
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from mcdenoise.core.exr import read_frame, write_frame
from mcdenoise.core.frame import Frame
from service_support import KEY, keyed_server, make_app, make_model, server_thread

CHROMIUM = os.environ.get("MCDENOISE_CHROMIUM", "/usr/bin/chromium")
# Flags that let Debian's chromium run headless in containers and CI (no sandbox, no GPU,
# no /dev/shm).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
SCREENSHOTS = os.environ.get("MCDENOISE_SCREENSHOTS")
SIZE = {"width": 1280, "height": 800}  # the smallest screen the page is made for
H, W = 120, 160


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
    args = []
    if SCREENSHOTS:
        from mcdenoise.nn.modelfile import default_model_path
        args = ["--model", f"shipped={default_model_path()}"]
    with keyed_server(folder, *args) as base_url:
        yield base_url, folder


def scene_frame(height: int = H, width: int = W, seed: int = 0) -> Frame:
    """A render-like frame: a lit sphere over a checker floor with a lamp, Monte Carlo-like
    noise on the colour (mean-1 gamma), albedo, unit normals, alpha, depth, and an extra
    colour layer `diffuse`. Colour, albedo and normals are exactly what a file stores
    (half floats), so the file's values are these."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = (x + 0.5) / width * 2 - 1, (y + 0.5) / height * 2 - 1
    v = v * height / width
    r2 = (u - 0.1) ** 2 + (v + 0.05) ** 2
    sphere = r2 < 0.45 ** 2
    nz = np.sqrt(np.clip(1 - r2 / 0.45 ** 2, 0, 1))
    normal = np.stack([(u - 0.1) / 0.45, (v + 0.05) / 0.45, nz], -1)
    normal[~sphere] = (0.0, -0.6, 0.8)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    checker = ((np.floor(x / 16) + np.floor(y / 16)) % 2).astype(np.float32)
    albedo = np.where(sphere[..., None], (0.8, 0.25, 0.1),
                      np.stack([0.2 + 0.6 * checker, 0.3 + 0.5 * checker, 0.5 - 0.2 * checker], -1))
    light = np.array([-0.5, -0.6, 0.6]) / np.linalg.norm([-0.5, -0.6, 0.6])
    shade = np.clip(normal @ light, 0, None) + 0.08
    clean = albedo * shade[..., None] * 1.5
    clean[8:18, 8:24] = 12.0  # a lamp: HDR values far past 1
    noisy = clean * rng.gamma(0.7, 1 / 0.7, clean.shape)
    depth = np.where(sphere, 3.0 - nz, 4.0 + 6.0 * (1 - (y + 0.5) / height))
    alpha = np.where(sphere, 1.0, 0.5)
    diffuse = (albedo * shade[..., None]).astype(np.float16)
    half = lambda a: np.asarray(a, np.float16).astype(np.float32)  # noqa: E731
    return Frame(color=half(noisy), albedo=half(albedo), normal=half(normal),
                 alpha=half(alpha), depth=np.asarray(depth, np.float32),
                 extra={f"diffuse.{c}": diffuse[..., i] for i, c in enumerate("RGB")})


# --- what the page drew -------------------------------------------------------------------

def srgb8(linear: np.ndarray) -> np.ndarray:
    """sRGB encoding of linear values, clipped to [0, 1], as canvas bytes."""
    v = np.clip(np.asarray(linear, np.float64), 0, 1)
    encoded = np.where(v <= 0.0031308, 12.92 * v, 1.055 * v ** (1 / 2.4) - 0.055)
    return np.round(255 * encoded)


def agx8(linear: np.ndarray) -> np.ndarray:
    """The page's filmic view (display.js): the minimal AgX fit, in numpy."""
    inset = np.array([[0.842479062253094, 0.0784335999999992, 0.0792237451477643],
                      [0.0423282422610123, 0.878468636469772, 0.0791661274605434],
                      [0.0423756549057051, 0.0784336, 0.879142973793104]])
    outset = np.array([[1.19687900512017, -0.0980208811401368, -0.0990297440797205],
                       [-0.0528968517574562, 1.15190312990417, -0.0989611768448433],
                       [-0.0529716355144438, -0.0980434501171241, 1.15107367264116]])
    lo, hi = -12.47393, 4.026069
    x = np.asarray(linear, np.float64) @ inset.T
    t = (np.clip(np.log2(np.maximum(x, 1e-10)), lo, hi) - lo) / (hi - lo)
    t = (15.5 * t ** 6 - 40.14 * t ** 5 + 31.96 * t ** 4 - 6.868 * t ** 3 + 0.4298 * t ** 2
         + 0.1191 * t - 0.00232)
    return srgb8(np.clip(t @ outset.T, 0, 1) ** 2.2)


def canvas_rgb(page, selector: str, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The RGB bytes of a canvas (or of the box x, y, w, h of it), (h, w, 3) int."""
    height, width, data = page.eval_on_selector(selector, """(canvas, box) => {
        const [x, y, w, h] = box || [0, 0, canvas.width, canvas.height];
        return [h, w, Array.from(canvas.getContext("2d").getImageData(x, y, w, h).data)];
    }""", list(box) if box else None)
    return np.asarray(data, np.int64).reshape(height, width, 4)[..., :3]


def view(page) -> tuple[float, float, float]:
    """(zoom, offset x, offset y) of the viewports: device = image * zoom + offset."""
    data = page.eval_on_selector("#view-a", "c => [c.dataset.zoom, c.dataset.offsetX, "
                                            "c.dataset.offsetY]")
    return tuple(float(v) for v in data)


def shown_image(page, selector: str = "#view-a") -> np.ndarray:
    """The image as the viewport shows it at 1:1 (the whole frame must be in view)."""
    zoom, ox, oy = view(page)
    assert zoom == 1 and ox == int(ox) and oy == int(oy)
    return canvas_rgb(page, selector, (int(ox), int(oy), W, H))


def point_at(page, x: int, y: int) -> tuple[float, float]:
    """The page coordinates of the centre of image pixel (x, y) in viewport A."""
    zoom, ox, oy = view(page)
    box = page.locator("#view-a").bounding_box()
    ratio = page.evaluate("window.devicePixelRatio")
    return box["x"] + (ox + (x + 0.5) * zoom) / ratio, box["y"] + (oy + (y + 0.5) * zoom) / ratio


def image_point(page, px: float, py: float) -> tuple[float, float]:
    """The image coordinates (fractional pixels) under page point (px, py) in viewport A."""
    zoom, ox, oy = view(page)
    box = page.locator("#view-a").bounding_box()
    ratio = page.evaluate("window.devicePixelRatio")
    return ((px - box["x"]) * ratio - ox) / zoom, ((py - box["y"]) * ratio - oy) / zoom


def readout(page) -> dict:
    """{"xy": (x, y), "noisy": [values], "denoised": [values]} from the readout's text."""
    xy = re.match(r"x (\d+), y (\d+)", page.inner_text("#readout-xy"))
    values = {}
    for name in ("noisy", "denoised"):
        text = page.inner_text(f"#readout-{'a' if name == 'noisy' else 'b'}")
        assert text.startswith(f"{name}: "), text
        values[name] = [float(v) for v in re.findall(r"\S+ (\S+)", text.split(": ", 1)[1])]
    return {"xy": (int(xy[1]), int(xy[2])) if xy else None, **values}


def renders(page) -> int:
    return int(page.get_attribute("#viewports", "data-renders") or 0)


def settle(page, layer: str = "beauty") -> None:
    """Wait until the page has drawn `layer` for the current settings."""
    page.wait_for_function("""layer => {
        const v = document.getElementById('viewports');
        return v.dataset.layer === layer && v.dataset.pending === '';
    }""", arg=layer, timeout=30_000)


def shoot(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"))


def open_page(browser, base_url: str, key: str | None = KEY):
    context = browser.new_context(accept_downloads=True, viewport=SIZE)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(base_url + "/")
    if key:
        # The server wants a key: the page says so, and takes one.
        page.wait_for_function("document.getElementById('status').textContent.includes('API key')")
        page.fill("#key", key)
        page.dispatch_event("#key", "change")
    page.wait_for_function("document.getElementById('model').options.length > 0")
    if SCREENSHOTS and page.locator("#model option[value=shipped]").count():
        page.select_option("#model", "shipped")
    return context, page, errors


def download(page, entry, folder: Path) -> tuple[str, Frame]:
    with page.expect_download() as info:
        entry.locator(".job-download").click()
    path = folder / info.value.suggested_filename
    info.value.save_as(path)
    return info.value.suggested_filename, read_frame(path)


# --- the tests ------------------------------------------------------------------------------

def test_viewer_shows_the_frame_at_full_resolution_in_every_mode(browser, site, tmp_path):
    base_url, folder = site
    upload = folder / "shot_0042.exr"
    write_frame(scene_frame(), upload)
    noisy = read_frame(upload)
    context, page, errors = open_page(browser, base_url)
    page.eval_on_selector("#settings", "details => { details.open = true; }")
    page.select_option("#precision", "float")  # the readout must equal the file to 6 digits

    page.set_input_files("#file", str(upload))
    entry = page.locator(".job").first
    page.wait_for_selector(".job[data-state=done]", timeout=90_000)
    settle(page)
    assert "shot_0042.exr" in page.inner_text("#viewer-title")
    name, result = download(page, entry, tmp_path)
    assert name == "shot_0042_denoised.exr"
    denoised = result.color
    assert denoised.shape == (H, W, 3) and np.isfinite(denoised).all()
    assert not np.array_equal(denoised, noisy.color)

    # The layer picker lists every layer of the file.
    layers = page.eval_on_selector_all("#layer option", "os => os.map(o => o.value)")
    for layer in ("beauty", "albedo", "normal", "alpha", "depth"):
        assert layer in layers
    assert any("diffuse" in layer for layer in layers), layers

    # Full resolution: the 8-bit images are the frame's size, whatever the zoom.
    for image in ("#image-a", "#image-b"):
        assert page.eval_on_selector(image, "c => [c.width, c.height]") == [W, H]
    shoot(page, "side_by_side")

    # sRGB (clip) at 0 EV, at 1:1: one canvas pixel per image pixel, in both viewports.
    page.select_option("#transform", "srgb")
    page.focus("#viewports")
    page.keyboard.press("1")
    assert view(page)[0] == 1
    np.testing.assert_allclose(shown_image(page), srgb8(noisy.color), atol=1)
    np.testing.assert_allclose(shown_image(page, "#view-b"), srgb8(denoised), atol=1)

    # The readout under the cursor: the EXR's values at that pixel, both images.
    for x, y in ((37, 21), (W - 1, H - 1), (12, 10)):
        page.mouse.move(*point_at(page, x, y))
        values = readout(page)
        assert values["xy"] == (x, y)
        np.testing.assert_allclose(values["noisy"], noisy.color[y, x], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(values["denoised"], denoised[y, x], rtol=1e-5, atol=1e-7)
    shoot(page, "zoomed_1to1_readout")

    # Zoom: keys, buttons and the wheel (around the cursor: the pixel under it stays there).
    page.keyboard.press("+")
    assert view(page)[0] == 2
    assert page.inner_text("#zoom-value") == "200%"
    page.click("#zoom-out")
    assert view(page)[0] == 1
    cursor = point_at(page, 60, 40)
    page.mouse.move(*cursor)
    under = image_point(page, *cursor)
    page.mouse.wheel(0, -300)
    page.wait_for_function("Number(document.getElementById('view-a').dataset.zoom) > 1.5")
    zoom = view(page)[0]
    assert zoom == pytest.approx(2, rel=0.05)
    # The same image point under the cursor, to the half device pixel that whole-pixel
    # offsets allow.
    np.testing.assert_allclose(image_point(page, *cursor), under, atol=0.5 / zoom + 1e-6)
    assert readout(page)["xy"] == (60, 40)
    # Nearest neighbour when zoomed in: a 2x2 block of screen pixels per image pixel.
    page.keyboard.press("+")
    page.keyboard.press("-")
    _, ox, oy = view(page)
    block = canvas_rgb(page, "#view-a", (int(ox) + 20, int(oy) + 20, 4, 4))
    assert (block[0::2, 0::2] == block[1::2, 1::2]).all() and (block[0] == block[1]).all()
    page.click("#zoom-fit")
    fitted = view(page)[0]
    assert fitted >= 2 and fitted == int(fitted)  # a small frame is enlarged by a whole factor

    # Panning moves both images together and recomputes nothing.
    page.click("#zoom-one")
    before, drawn = view(page), renders(page)
    start = point_at(page, 80, 60)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + 30, start[1] - 20, steps=3)
    page.mouse.up()
    after = view(page)
    assert (after[1] - before[1], after[2] - before[2]) == (30, -20)
    assert float(page.eval_on_selector("#view-b", "c => c.dataset.offsetX")) == after[1]
    assert renders(page) == drawn
    np.testing.assert_allclose(shown_image(page), srgb8(noisy.color), atol=1)

    # Split: noisy left of the line, denoised right of it, same view.
    page.check("input[name=mode][value=split]")
    page.wait_for_function("!document.getElementById('split-control').hidden")
    page.click("#zoom-one")
    zoom, ox, oy = view(page)
    page.fill("#split", "50")
    page.dispatch_event("#split", "input")
    line = page.eval_on_selector("#view-a", "c => Math.round(c.width * 0.5)")
    split = shown_image(page)
    col = line - int(ox)  # the line's column in the image
    assert 4 < col < W - 4, "the line must cross the frame for this test"
    np.testing.assert_allclose(split[:, :col - 2], srgb8(noisy.color)[:, :col - 2], atol=1)
    np.testing.assert_allclose(split[:, col + 1:], srgb8(denoised)[:, col + 1:], atol=1)
    page.click("#zoom-fit")
    shoot(page, "split")

    # A/B flip: the key toggles which image is shown, with a label that says which.
    page.check("input[name=mode][value=flip]")
    page.click("#zoom-one")
    assert page.inner_text("#label-a") == "A: noisy"
    np.testing.assert_allclose(shown_image(page), srgb8(noisy.color), atol=1)
    page.focus("#viewports")
    page.keyboard.press("Space")
    assert page.inner_text("#label-a") == "B: denoised"
    np.testing.assert_allclose(shown_image(page), srgb8(denoised), atol=1)
    page.click("#zoom-fit")
    shoot(page, "flip_b")
    page.keyboard.press("b")
    assert page.inner_text("#label-a") == "A: noisy"

    # The filmic view (AgX): as display.js defines it, and unlike the clip on the lamp.
    page.select_option("#transform", "agx")
    page.click("#zoom-one")
    agx = shown_image(page)
    np.testing.assert_allclose(agx, agx8(noisy.color), atol=1)
    lamp = (slice(8, 18), slice(8, 24))
    white = lambda image: (image[lamp] >= 255).all(-1).mean()  # noqa: E731
    assert white(srgb8(noisy.color)) > 0.5 and white(agx) < 0.2  # AgX rolls off, no clip
    page.select_option("#transform", "srgb")

    # Exposure: +1.5 EV multiplies the linear values by 2^1.5 before the view.
    drawn = renders(page)
    page.fill("#exposure", "1.5")
    page.dispatch_event("#exposure", "input")
    assert page.inner_text("#exposure-value") == "1.5 EV"
    assert renders(page) > drawn  # recomputed (fill and the event each ask once)
    np.testing.assert_allclose(shown_image(page), srgb8(noisy.color * 2 ** 1.5), atol=1)
    page.fill("#exposure", "0")
    page.dispatch_event("#exposure", "input")

    # Difference: |a - b| x 4, then of two identical layers (albedo is not denoised): black.
    page.check("input[name=mode][value=diff]")
    page.fill("#diff-scale", "2")
    page.dispatch_event("#diff-scale", "input")
    diff = shown_image(page)
    expected = np.round(255 * np.clip(np.abs(noisy.color - denoised) * 4, 0, 1))
    np.testing.assert_allclose(diff, expected, atol=1)
    page.select_option("#diff-kind", "rel")
    expected = np.abs(noisy.color - denoised) / (np.abs(denoised) + 0.01) * 4
    np.testing.assert_allclose(shown_image(page), np.round(255 * np.clip(expected, 0, 1)), atol=1)
    page.select_option("#diff-kind", "abs")
    page.click("#zoom-fit")
    shoot(page, "difference")
    page.fill("#exposure", "3")  # for the layers below: only light takes it
    page.select_option("#layer", "albedo")
    settle(page, "albedo")
    page.click("#zoom-one")
    assert (shown_image(page) == 0).all()

    # Layers: albedo as its sRGB encoding (no exposure), normals n * 0.5 + 0.5, alpha as
    # grey, depth normalised to its range; readout shows the layer's own values.
    page.check("input[name=mode][value=side]")
    assert page.is_disabled("#exposure") and page.is_disabled("#transform")
    page.click("#zoom-one")
    np.testing.assert_allclose(shown_image(page), srgb8(noisy.albedo), atol=1)
    np.testing.assert_allclose(shown_image(page, "#view-b"), srgb8(result.albedo), atol=1)
    page.mouse.move(*point_at(page, 50, 70))
    np.testing.assert_allclose(readout(page)["noisy"], noisy.albedo[70, 50], rtol=1e-5)
    page.click("#zoom-fit")
    shoot(page, "albedo_layer")
    page.select_option("#layer", "normal")
    settle(page, "normal")
    page.click("#zoom-one")
    np.testing.assert_allclose(shown_image(page),
                               np.round(255 * np.clip(noisy.normal * 0.5 + 0.5, 0, 1)), atol=1)
    page.select_option("#layer", "alpha")
    settle(page, "alpha")
    grey = np.round(255 * noisy.alpha)[..., None].repeat(3, -1)
    np.testing.assert_allclose(shown_image(page), grey, atol=1)
    page.select_option("#layer", "depth")
    settle(page, "depth")
    depth = noisy.depth
    grey = np.round(255 * (depth - depth.min()) / (depth.max() - depth.min()))[..., None]
    np.testing.assert_allclose(shown_image(page), grey.repeat(3, -1), atol=1)
    diffuse = next(layer for layer in layers if "diffuse" in layer)
    page.select_option("#layer", diffuse)
    settle(page, diffuse)
    extra = np.stack([noisy.extra[f"diffuse.{c}"] for c in "RGB"], -1).astype(np.float32)
    np.testing.assert_allclose(shown_image(page), srgb8(extra * 8), atol=1)  # 3 EV

    assert not errors
    context.close()


def test_two_files_dropped_at_once_each_get_their_entry(browser, site, tmp_path):
    base_url, folder = site
    files = {"left.exr": scene_frame(H, W, seed=1),
             # wider than the old preview's 1024 pixels: shown at full size all the same
             "wide.exr": scene_frame(24, 1100, seed=2)}
    payload = []
    for name, frame in files.items():
        write_frame(frame, folder / name)
        payload.append([name, base64.b64encode((folder / name).read_bytes()).decode()])
    context, page, errors = open_page(browser, base_url)
    # A real drop event whose DataTransfer holds both files.
    transfer = page.evaluate_handle("""files => {
        const transfer = new DataTransfer();
        for (const [name, data] of files) {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            transfer.items.add(new File([bytes], name, {type: "image/x-exr"}));
        }
        return transfer;
    }""", payload)
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
    entries = page.locator(".job")
    assert entries.count() == 2
    # One after the other: the second waits while the first goes through.
    assert entries.nth(1).get_attribute("data-state") == "waiting"
    shoot(page, "two_files_in_turn")
    page.wait_for_function("document.querySelectorAll('.job[data-state=done]').length == 2",
                           timeout=120_000)
    for index, (name, frame) in enumerate(files.items()):
        entry = entries.nth(index)
        assert name in entry.inner_text()
        saved, result = download(page, entry, tmp_path)
        assert saved == name.replace(".exr", "_denoised.exr")
        assert result.color.shape == frame.color.shape
    # The first is shown; choosing the second (from the keyboard) shows it, at its full size.
    assert "left.exr" in page.inner_text("#viewer-title")
    entries.nth(1).locator(".job-select").focus()
    page.keyboard.press("Enter")
    settle(page)
    assert "wide.exr" in page.inner_text("#viewer-title")
    assert entries.nth(1).locator(".job-select").get_attribute("aria-pressed") == "true"
    assert page.eval_on_selector("#image-b", "c => [c.width, c.height]") == [1100, 24]
    shoot(page, "two_files_done")
    assert not errors
    context.close()


def test_page_shows_the_servers_error(browser, site):
    base_url, folder = site
    context, page, errors = open_page(browser, base_url)
    bad = folder / "not_an.exr"
    bad.write_bytes(b"this is not an EXR file")
    page.set_input_files("#file", str(bad))
    page.wait_for_selector(".job[data-state=failed]", timeout=30_000)
    assert "not an OpenEXR file" in page.inner_text(".job-error")
    assert "not an OpenEXR file" in page.inner_text("#status")
    assert page.get_attribute("body", "data-state") == "error"
    assert page.is_visible(".job-retry")
    context.close()


@pytest.fixture
def gated(monkeypatch):
    """Make every denoiser call wait for ``gate`` (a threading.Event); yields the gate."""
    import service.inference

    gate = threading.Event()
    real = service.inference.denoise

    def slow(denoiser, frames):
        gate.wait(60)
        return real(denoiser, frames)

    monkeypatch.setattr(service.inference, "denoise", slow)
    yield gate
    gate.set()


def test_busy_server_is_retried_after_its_retry_after_and_jobs_cancel(browser, tmp_path, gated):

    model = make_model(tmp_path / "tiny.safetensors")
    app = make_app(model, queue=0, workers=1)
    uploads = [tmp_path / "busy.exr", tmp_path / "later.exr"]
    for seed, path in enumerate(uploads):
        write_frame(scene_frame(32, 48, seed=seed), path)
    with server_thread(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
        # Fill the queue: jobs until the server says it is full.
        for _ in range(8):
            response = client.post("/v1/jobs", files={"file": ("f.exr", uploads[0].read_bytes())})
            if response.status_code == 503:
                break
            assert response.status_code == 202, response.text
        assert response.status_code == 503 and int(response.headers["retry-after"]) >= 1

        context, page, errors = open_page(browser, base_url, key=None)
        page.set_input_files("#file", [str(p) for p in uploads])
        first, second = page.locator(".job").nth(0), page.locator(".job").nth(1)
        page.wait_for_selector(".job[data-state=retrying]", timeout=30_000)
        text = first.locator(".job-state").inner_text()
        assert re.search(r"retrying in \d+ s", text), text
        assert "Retrying in" in page.inner_text("#status")
        assert "full" in page.inner_text("#status")  # the server's own words
        shoot(page, "busy_server_countdown")
        # The second waits its turn; cancelled, it is never sent.
        assert second.get_attribute("data-state") == "waiting"
        second.locator(".job-cancel").click()
        assert second.get_attribute("data-state") == "cancelled"
        # Still busy: the page keeps counting down and asking; once free, it goes through.
        time.sleep(2.5)
        assert first.get_attribute("data-state") in ("retrying", "uploading")
        gated.set()
        page.wait_for_selector(".job[data-state=done]", timeout=90_000)
        settle(page)
        assert second.get_attribute("data-state") == "cancelled"

        # Sent again, it is held by the slowed denoiser; cancelled there, the server says so.
        gated.clear()
        second.locator(".job-retry").click()
        page.wait_for_function("""() => {
            const job = document.querySelectorAll('.job')[1];
            return job.dataset.id && ['queued', 'running'].includes(job.dataset.state);
        }""", timeout=30_000)
        second.locator(".job-cancel").click()
        page.wait_for_selector(".job:nth-child(2)[data-state=cancelled]", timeout=30_000)
        job_id = second.get_attribute("data-id")
        assert client.get(f"/v1/jobs/{job_id}").json()["state"] == "cancelled"
        assert page.get_attribute("body", "data-state") == "done"
        gated.set()
        assert not errors
        context.close()

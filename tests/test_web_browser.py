"""The page of mnistlab serve in a real headless Chromium: draw with the mouse or a finger, upload, errors."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image, ImageDraw, ImageFont

from mnistlab.web import server

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


@pytest.fixture(scope="module")
def base_url():
    with server.running(server.create_app(server.Models(), lang="fr")) as url:
        yield url


@pytest.fixture()
def page(browser, base_url):
    context = browser.new_context(viewport={"width": 900, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(base_url + "/")
    page.wait_for_selector("body[data-state=idle]")
    yield page
    context.close()
    assert requests and all(u.startswith(base_url + "/") for u in requests), requests  # nothing left the machine


def result(page, action) -> str:
    """Run ``action`` and wait for the page's answer: the predicted class, or "error"."""
    page.evaluate("document.body.dataset.state = 'waiting'")
    action()
    page.wait_for_selector("body[data-state=done], body[data-state=error]")  # the page's CSP forbids eval
    state = page.evaluate("document.body.dataset.state")
    return page.evaluate("document.body.dataset.label") if state == "done" else "error"


def stroke(page, points, steps=12):
    """Drag the mouse through ``points`` given as fractions of the drawing pad."""
    box = page.locator("#pad").bounding_box()

    def at(p):
        return box["x"] + p[0] * box["width"], box["y"] + p[1] * box["height"]

    page.mouse.move(*at(points[0]))
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*at(p), steps=steps)
    page.mouse.up()


def font_digit(d: int) -> bytes:
    im = Image.new("RGB", (240, 180), (245, 240, 228))
    font = ImageFont.truetype(FONT, 120) if os.path.exists(FONT) else ImageFont.load_default(120)
    ImageDraw.Draw(im).text((80, 10), str(d), fill=(25, 25, 60), font=font)
    buf = io.BytesIO()
    im.save(buf, format="JPEG")
    return buf.getvalue()


def test_draw_a_seven_then_clear_and_draw_a_one(page):
    assert result(page, lambda: stroke(page, [(0.25, 0.2), (0.75, 0.2), (0.42, 0.85)])) == "7"
    assert page.locator("#top li").count() == 3
    assert page.locator("#seen").get_attribute("src").startswith("data:image/png;base64,")
    assert not page.locator("#error").is_visible()
    page.click("#clear")
    assert page.locator("#top li").count() == 0 and page.evaluate("document.body.dataset.state") == "idle"
    assert result(page, lambda: stroke(page, [(0.5, 0.15), (0.5, 0.85)])) == "1"


def test_draw_with_a_finger(page):
    """Touch input arrives as pointer events of type "touch"; the pad draws from those: a vertical 1."""
    box = page.locator("#pad").bounding_box()
    x = box["x"] + 0.5 * box["width"]

    def swipe():
        ys = [0.15 + 0.05 * k for k in range(15)]
        kinds = ["pointerdown"] + ["pointermove"] * (len(ys) - 2) + ["pointerup"]
        for kind, y in zip(kinds, ys, strict=True):
            page.dispatch_event("#pad", kind, {"pointerId": 7, "pointerType": "touch", "isPrimary": True,
                                               "clientX": x, "clientY": box["y"] + y * box["height"]})

    assert result(page, swipe) == "1"


def test_upload_a_file_then_switch_to_clothes(page):
    assert result(page, lambda: page.set_input_files(
        "#file", files=[{"name": "quatre.jpg", "mimeType": "image/jpeg", "buffer": font_digit(4)}])) == "4"
    assert result(page, lambda: page.check("input[value=fashion_mnist]")) != "error"
    names = page.locator("#top .name").all_inner_texts()
    assert len(names) == 3 and set(names) <= {"T-shirt", "Pantalon", "Pull", "Robe", "Manteau", "Sandale",
                                              "Chemise", "Basket", "Sac", "Bottine"}


def test_a_non_image_shows_an_error(page):
    got = result(page, lambda: page.set_input_files(
        "#file", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a picture"}]))
    assert got == "error"
    assert page.locator("#error").is_visible()
    assert "not an image" in page.locator("#error").inner_text()
    assert page.locator("#top li").count() == 0
    # and the page still works afterwards
    assert result(page, lambda: stroke(page, [(0.5, 0.15), (0.5, 0.85)])) == "1"
    assert not page.locator("#error").is_visible()

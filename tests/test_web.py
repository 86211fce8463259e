"""mnistlab serve: the JSON endpoint and its limits, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import http.client
import io
import json
import socket
import time
import urllib.parse
from importlib import resources

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnistlab.cli import main
from mnistlab.errors import MnistlabError
from mnistlab.web import server

LIMIT = 256 * 1024  # the test server's upload limit, bytes


def digit_png(text_xy=(60, 30)) -> bytes:
    """A thick "7", dark ink on white, as a browser canvas would send it."""
    im = Image.new("L", (280, 280), 255)
    x, y = text_xy
    ImageDraw.Draw(im).line([(x, y), (x + 130, y), (x + 50, y + 200)], fill=0, width=22)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def base_url():
    app = server.create_app(server.Models(), lang="en", max_bytes=LIMIT)
    with server.running(app) as url:
        yield url


def request(base_url, method, path, body=None, headers=None, chunked=False):
    """(status, headers, JSON or bytes) of one request on a fresh connection, 30 s at most."""
    u = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
        res = conn.getresponse()
        data = res.read()
        kind = res.getheader("Content-Type", "")
        return res.status, res.headers, json.loads(data) if "json" in kind else data
    finally:
        conn.close()


def test_predict_returns_top_classes_and_the_input_it_saw(base_url):
    status, headers, doc = request(base_url, "POST", "/api/predict?model=mnist", digit_png(),
                                   {"Content-Type": "image/png"})
    assert status == 200, doc
    assert doc["model"] == "mnist" and len(doc["top"]) == 3
    assert doc["top"][0]["class"] == 7 and doc["top"][0]["label"] == "7"
    probs = [t["probability"] for t in doc["top"]]
    assert probs == sorted(probs, reverse=True) and 0.5 < probs[0] <= 1
    png = base64.b64decode(doc["input"].removeprefix("data:image/png;base64,"))
    seen = Image.open(io.BytesIO(png))
    assert seen.size == (28, 28) and np.asarray(seen).max() == 255 and np.asarray(seen)[0].max() == 0
    assert headers["Cache-Control"] == "no-store"


def test_fashion_model_and_top(base_url):
    im = Image.new("L", (200, 200), 250)
    ImageDraw.Draw(im).rectangle((70, 10, 130, 190), fill=40)  # a long dark shape: trousers, more or less
    buf = io.BytesIO()
    im.save(buf, format="JPEG")
    status, _, doc = request(base_url, "POST", "/api/predict?model=fashion&top=10", buf.getvalue())
    assert status == 200 and doc["dataset"] == "fashion_mnist" and len(doc["top"]) == 10
    assert {t["label"] for t in doc["top"]} >= {"Trouser", "Ankle boot"}
    assert abs(sum(t["probability"] for t in doc["top"]) - 1) < 1e-3


def test_models_endpoint(base_url):
    status, _, doc = request(base_url, "GET", "/api/models")
    assert status == 200 and doc["lang"] == "en" and doc["max_bytes"] == LIMIT
    ids = {m["id"]: m for m in doc["models"]}
    assert set(ids) == {"mnist", "fashion_mnist"}
    assert ids["mnist"]["test_accuracy"] > 0.98 and ids["fashion_mnist"]["classes"][9] == "Ankle boot"


@pytest.mark.parametrize("body,headers,path,status,message", [
    (digit_png()[:300], {"Content-Type": "image/png"}, "/api/predict", 400, "truncated or damaged"),
    (b"GIF89a but not really", {"Content-Type": "image/gif"}, "/api/predict", 400, "not an image"),
    (b"%PDF-1.4 a document", {"Content-Type": "application/pdf"}, "/api/predict", 400, "not an image"),
    (b"", {}, "/api/predict", 400, "empty upload"),
    (b"x", {}, "/api/predict?model=cifar", 400, "unknown model"),
    (b"x", {}, "/api/predict?top=0", 400, "top must be"),
    (b"--b\r\n", {"Content-Type": "multipart/form-data; boundary=b"}, "/api/predict", 400, "no file"),
])
def test_bad_requests_get_a_message(base_url, body, headers, path, status, message):
    got, _, doc = request(base_url, "POST", path, body, headers)
    assert got == status and message in doc["error"]


def test_blank_canvas_is_a_400(base_url):
    buf = io.BytesIO()
    Image.new("L", (280, 280), 255).save(buf, format="PNG")
    status, _, doc = request(base_url, "POST", "/api/predict", buf.getvalue())
    assert status == 400 and "blank" in doc["error"]


def test_too_large_by_content_length_is_refused_before_the_body_is_sent(base_url):
    """413 comes back although not one byte of the declared 1 GB body was sent."""
    u = urllib.parse.urlsplit(base_url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(f"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1:{u.port}\r\nContent-Type: image/png\r\n".encode()
                  + b"Content-Length: 1000000000\r\n\r\n")
        t0 = time.perf_counter()
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413")
    assert b"upload too large" in reply and time.perf_counter() - t0 < 5


def test_too_large_when_streamed_without_length(base_url):
    """Chunks past the limit, then the client waits: the server answers 413 without the rest of the body.

    The client stops sending once over the limit, as the server stops reading there: bytes left unread when
    the server closes would reset the connection and could discard the answer before the client reads it.
    """
    u = urllib.parse.urlsplit(base_url)
    with socket.create_connection((u.hostname, u.port), timeout=30) as sock:
        sock.sendall(f"POST /api/predict HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nContent-Type: image/png\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        for _ in range(LIMIT // 8192 + 1):
            sock.sendall(b"2000\r\n" + b"\0" * 8192 + b"\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"413" and b"over the limit" in body, answer[:300]


def test_too_many_pixels_is_a_400_before_decoding(base_url):
    buf = io.BytesIO()
    Image.new("1", (8000, 6000), 1).save(buf, format="PNG")  # 48 megapixels in a few kB
    assert len(buf.getvalue()) < LIMIT
    status, _, doc = request(base_url, "POST", "/api/predict", buf.getvalue())
    assert status == 400 and "megapixels" in doc["error"]


def test_page_is_local_only(base_url):
    status, headers, body = request(base_url, "GET", "/")
    assert status == 200 and b"<canvas" in body
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "http" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    for name in ("index.html", "app.js", "style.css"):
        text = resources.files("mnistlab.web").joinpath("static", name).read_text(encoding="utf-8")
        assert "http:" not in text and "https:" not in text and "//" not in text.replace("// ", "")
    for path, kind in (("/app.js", "text/javascript"), ("/style.css", "text/css")):
        status, headers, _ = request(base_url, "GET", path)
        assert status == 200 and headers["Content-Type"].startswith(kind)
    assert request(base_url, "GET", "/../pyproject.toml")[0] == 404
    assert request(base_url, "GET", "/api/predict")[0] == 405


def test_serve_warns_when_exposed_and_binds_loopback_by_default(monkeypatch, capsys):
    seen = {}

    class FakeServer:
        def run(self, sockets):
            seen["address"] = sockets[0].getsockname()[0]

    monkeypatch.setattr(server.Models, "warm_up", lambda self: None)
    monkeypatch.setattr(server, "_server", lambda app, sock: FakeServer())
    assert main(["serve", "--port", "0"]) == 0
    err = capsys.readouterr().err
    assert seen["address"] == "127.0.0.1" and "warning" not in err and "serving http://127.0.0.1:" in err
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 0
    assert "warning: listening on 0.0.0.0" in capsys.readouterr().err


def test_serve_port_in_use_is_one_line(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(MnistlabError, match=f"cannot listen on 127.0.0.1:{port}"):
            server._bind("127.0.0.1", port)
    assert main(["serve", "--port", "70000"]) == 1
    assert "--port must be between 0 and 65535" in capsys.readouterr().err

"""mnistlab serve against slow, lying and cross-site clients, and the usual multipart upload (127.0.0.1)."""

from __future__ import annotations

import io
import socket
import time
import urllib.parse

import pytest
import requests
from PIL import Image, ImageDraw

from mnistlab.web import guard, server

LIMIT = 256 * 1024
TIMEOUT_S = 1.0  # this test server's header and body deadlines


def digit_png() -> bytes:
    im = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(im).line([(60, 30), (190, 30), (110, 230)], fill=0, width=22)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def base_url():
    saved = guard.GuardedH11.header_timeout_s
    guard.GuardedH11.header_timeout_s = TIMEOUT_S
    app = server.create_app(server.Models(), lang="en", max_bytes=LIMIT, body_timeout_s=TIMEOUT_S)
    try:
        with server.running(app) as url:
            yield url
    finally:
        guard.GuardedH11.header_timeout_s = saved


def raw(base_url, data: bytes, wait_s: float = 10.0) -> bytes:
    """Send ``data`` on a fresh connection; everything the server sends back until it closes."""
    u = urllib.parse.urlsplit(base_url)
    with socket.create_connection((u.hostname, u.port), timeout=wait_s) as s:
        s.sendall(data)
        reply = b""
        try:
            while chunk := s.recv(65536):
                reply += chunk
        except TimeoutError:
            pass
    return reply


def host(base_url) -> str:
    return urllib.parse.urlsplit(base_url).netloc


def test_foreign_host_and_origin_are_refused(base_url):
    port = urllib.parse.urlsplit(base_url).port
    assert requests.get(base_url + "/", headers={"Host": "evil.example"}, timeout=10).status_code == 403
    assert requests.get(base_url + "/", headers={"Host": f"evil.example:{port}"}, timeout=10).status_code == 403
    assert requests.get(base_url + "/", headers={"Host": f"localhost:{port}"}, timeout=10).status_code == 200
    r = requests.post(base_url + "/api/predict", data=digit_png(), headers={"Origin": "http://evil.example"},
                      timeout=30)
    assert r.status_code == 403 and "cross-origin" in r.json()["error"]
    own = requests.post(base_url + "/api/predict", data=digit_png(), headers={"Origin": f"http://{host(base_url)}"},
                        timeout=30)
    assert own.status_code == 200 and own.json()["top"][0]["class"] == 7


def test_open_host_serves_any_name_but_still_refuses_foreign_origins():
    app = server.create_app(server.Models(), loopback=False)
    with server.running(app) as url:
        assert requests.get(url + "/", headers={"Host": "classroom.local:8000"}, timeout=10).status_code == 200
        r = requests.get(url + "/api/models", headers={"Host": "classroom.local:8000",
                                                       "Origin": "http://evil.example"}, timeout=10)
        assert r.status_code == 403


def test_headers_over_the_limit_get_431(base_url):
    big = b"x" * (guard.MAX_HEADER_BYTES + 1000)
    reply = raw(base_url, f"GET / HTTP/1.1\r\nHost: {host(base_url)}\r\nX-Big: ".encode() + big + b"\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 431")


def test_slow_headers_get_408_and_are_closed(base_url):
    t0 = time.perf_counter()
    reply = raw(base_url, b"GET / HTTP/1.1\r\nHo")
    assert reply.startswith(b"HTTP/1.1 408") and b"not received within" in reply
    assert time.perf_counter() - t0 < TIMEOUT_S + 5


def test_body_shorter_than_its_content_length_gets_408(base_url):
    reply = raw(base_url, f"POST /api/predict HTTP/1.1\r\nHost: {host(base_url)}\r\nContent-Type: image/png\r\n"
                          "Content-Length: 1000\r\n\r\n".encode() + b"\x89PNG")
    # 408 at the minimum rate (after its grace period) or the body deadline, whichever comes first
    assert reply.startswith(b"HTTP/1.1 408") and (b"did not arrive within" in reply or b"slower than" in reply)


def test_slow_connections_do_not_lock_others_out(base_url):
    """64 connections dripping their headers: a normal request is still answered at once, and they are
    closed at the header deadline."""
    u = urllib.parse.urlsplit(base_url)
    slow = [socket.create_connection((u.hostname, u.port), timeout=10) for _ in range(64)]
    try:
        for s in slow:
            s.sendall(b"POST /api/predict HTTP/1.1\r\nHost: ")
        t0 = time.perf_counter()
        r = requests.get(base_url + "/", timeout=10)
        answered = time.perf_counter() - t0
        assert r.status_code == 200 and answered < 5  # generous on a shared machine; ~10 ms when idle
        for s in slow:
            assert s.recv(4096).startswith(b"HTTP/1.1 408")
    finally:
        for s in slow:
            s.close()


@pytest.mark.parametrize("files,data", [
    ({"file": ("digit.png", digit_png(), "image/png")}, None),
    ({"upload": ("blob", digit_png(), "application/octet-stream")}, {"note": "a text field beside it"}),
    ({"anything": ("7.png", digit_png())}, None),
])
def test_multipart_upload_like_curl_F_and_requests(base_url, files, data):
    r = requests.post(base_url + "/api/predict?model=mnist", files=files, data=data, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["top"][0]["class"] == 7


def test_multipart_refusals(base_url):
    png = digit_png()
    two = requests.post(base_url + "/api/predict", files={"a": ("a.png", png), "b": ("b.png", png)}, timeout=30)
    assert two.status_code == 400 and "2 files" in two.json()["error"]
    none = requests.post(base_url + "/api/predict", files={"a": (None, "just text")}, timeout=30)
    assert none.status_code == 400 and "no file" in none.json()["error"]
    big = requests.post(base_url + "/api/predict", files={"f": ("f.png", b"\0" * (LIMIT + 10))}, timeout=30)
    assert big.status_code == 413


def test_curl_d_gets_a_hint(base_url):
    mangled = digit_png().replace(b"\r", b"").replace(b"\n", b"")  # what curl -d @file sends
    r = requests.post(base_url + "/api/predict", data=mangled,
                      headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
    assert r.status_code == 400 and "--data-binary" in r.json()["error"]


def test_page_language_follows_lang(base_url):
    r = requests.get(base_url + "/", timeout=10)
    assert '<html lang="en">' in r.text


def test_serve_on_all_addresses_says_who_can_reach_it(monkeypatch, capsys):
    from mnistlab.cli import main

    class FakeServer:
        def run(self, sockets):
            pass

    monkeypatch.setattr(server.Models, "warm_up", lambda self: None)
    monkeypatch.setattr(server, "_server", lambda app, sock: FakeServer())
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 0
    warnings = [ln for ln in capsys.readouterr().err.splitlines() if "warning" in ln]
    assert len(warnings) == 1 and "anyone on a network that reaches this machine" in warnings[0]


# --- form parsing off the loop, slow uploads, idle connections, hang-ups, other loopback addresses ----------


def _form_with_boundaries(n: int) -> tuple[bytes, str]:
    """A form whose file is a PNG followed by ``n`` near-boundary sequences (seconds of parser CPU unchecked)."""
    body = (b"--a\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png"
            b"\r\n\r\n" + digit_png() + b"\r\n--aX" * n + b"\r\n--a--\r\n")
    return body, "multipart/form-data; boundary=a"


def test_a_form_full_of_boundaries_is_refused_at_once_and_others_are_served(base_url):
    body, kind = _form_with_boundaries(LIMIT // 6 - 2000)
    t0 = time.perf_counter()
    r = requests.post(base_url + "/api/predict", data=body, headers={"Content-Type": kind}, timeout=30)
    assert r.status_code == 400 and "boundary occurs over" in r.json()["error"]
    assert time.perf_counter() - t0 < 2
    from mnistlab.web import upload

    big, _ = _form_with_boundaries(10 * 2**20 // 6 - 1000)
    t0 = time.perf_counter()
    with pytest.raises(upload.UploadError, match="boundary occurs over"):
        upload.file_bytes(big, kind, 10 * 2**20)
    assert time.perf_counter() - t0 < 0.5  # ~1.7 s in the parser without the count


def _length(reply: bytes) -> int:
    """The Content-Length of a raw HTTP reply's headers (0 when absent)."""
    head = reply.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    return next((int(line.split(":", 1)[1]) for line in head.split("\r\n") if line.startswith("content-length:")), 0)


def test_a_slow_upload_is_cut_off_and_frees_its_slot():
    """1 byte a second: 408 after the grace period, not at the body deadline; the one slot is free again."""
    app = server.create_app(server.Models(), lang="en", max_uploads=1, body_timeout_s=30, min_rate=1000,
                            rate_grace_s=0.5)
    with server.running(app) as url:
        u = urllib.parse.urlsplit(url)
        with socket.create_connection((u.hostname, u.port), timeout=10) as s:
            s.sendall(f"POST /api/predict HTTP/1.1\r\nHost: {u.netloc}\r\nContent-Type: image/png\r\n"
                      "Content-Length: 1000\r\n\r\n".encode())
            t0 = time.perf_counter()
            reply = b""
            while not reply:
                s.sendall(b"\x89")
                try:
                    s.settimeout(1.0)
                    reply = s.recv(4096)
                except TimeoutError:
                    pass
            assert time.perf_counter() - t0 < 5
            s.settimeout(5.0)
            while b"\r\n\r\n" not in reply or len(reply.split(b"\r\n\r\n", 1)[1]) < _length(reply):
                more = s.recv(4096)  # the body may come in a packet of its own on a loaded machine
                if not more:
                    break
                reply += more
            assert reply.startswith(b"HTTP/1.1 408") and b"slower than 1,000 bytes/s" in reply
        r = requests.post(url + "/api/predict", data=digit_png(), timeout=30)
        assert r.status_code == 200


def test_many_idle_connections_do_not_starve_others(monkeypatch):
    """More idle connections than may wait for headers: the oldest are closed, a normal request is served."""
    monkeypatch.setattr(guard.GuardedH11, "max_waiting_heads", 16)
    monkeypatch.setattr(guard.GuardedH11, "min_wait_s", 0.2)
    app = server.create_app(server.Models(), lang="en")
    with server.running(app) as url:
        u = urllib.parse.urlsplit(url)
        idle = [socket.create_connection((u.hostname, u.port), timeout=10) for _ in range(50)]
        time.sleep(0.3)
        idle += [socket.create_connection((u.hostname, u.port), timeout=10) for _ in range(50)]
        try:
            time.sleep(0.3)
            t0 = time.perf_counter()
            r = requests.get(url + "/api/models", timeout=10)
            assert r.status_code == 200 and time.perf_counter() - t0 < 2
            closed = sum(1 for s in idle[:50] if s.recv(4096).startswith(b"HTTP/1.1 408"))
            assert closed == 50  # the oldest, long before their header deadline
        finally:
            for s in idle:
                s.close()


def test_a_client_leaving_mid_upload_logs_no_traceback(base_url, caplog):
    import logging

    u = urllib.parse.urlsplit(base_url)
    uvicorn_log = logging.getLogger("uvicorn.error")  # uvicorn's loggers do not propagate to the root
    uvicorn_log.addHandler(caplog.handler)
    try:
        for _ in range(3):
            with socket.create_connection((u.hostname, u.port), timeout=10) as s:
                s.sendall(f"POST /api/predict HTTP/1.1\r\nHost: {u.netloc}\r\nContent-Type: image/png\r\n"
                          "Content-Length: 100000\r\n\r\n".encode() + b"\x89PNG" * 100)
                time.sleep(0.2)
        time.sleep(0.5)
        assert requests.get(base_url + "/", timeout=10).status_code == 200
    finally:
        uvicorn_log.removeHandler(caplog.handler)
    assert not [r for r in caplog.records if "Exception in ASGI application" in r.getMessage() or r.exc_info]


def test_another_loopback_address_is_served_at_that_address():
    app = server.create_app(server.Models(), lang="en", host="127.0.0.2")
    with server.running(app, host="127.0.0.2") as url:
        assert url.startswith("http://127.0.0.2:")
        assert requests.get(url + "/", timeout=10).status_code == 200
        port = urllib.parse.urlsplit(url).port
        assert requests.get(url + "/", headers={"Host": f"evil.example:{port}"}, timeout=10).status_code == 403


def test_idle_connections_past_the_connection_limit_do_not_get_a_request_503(monkeypatch):
    """More fresh idle connections than limit_concurrency: a complete request closes the oldest, is served."""
    monkeypatch.setattr(server, "MAX_CONNECTIONS", 40)
    monkeypatch.setattr(guard.GuardedH11, "min_wait_s", 30.0)  # none is closed for being idle long
    app = server.create_app(server.Models(), lang="en")
    with server.running(app) as url:
        u = urllib.parse.urlsplit(url)
        idle = [socket.create_connection((u.hostname, u.port), timeout=10) for _ in range(60)]
        try:
            time.sleep(0.3)
            for _ in range(3):
                assert requests.get(url + "/api/models", timeout=10).status_code == 200
        finally:
            for s in idle:
                s.close()

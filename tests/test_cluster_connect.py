"""``--cluster`` at addresses that are not a Dask scheduler: one line each, within the stated time, and a
stock scheduler passes the greeting check. In this process, on 127.0.0.1, no training."""

import socket
import subprocess
import sys
import threading
import time

import pytest

from mnistlab.distributed import cluster
from mnistlab.errors import MnistlabError


@pytest.fixture
def peer():
    """A loopback port that accepts and then stays silent, sends junk, or answers as an HTTP server."""
    socks = []

    def start(kind: str) -> int:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        socks.append(s)

        def serve():
            while True:
                try:
                    c, _ = s.accept()
                except OSError:
                    return
                socks.append(c)
                if kind == "junk":
                    c.sendall(b"\xff" * 64)
                elif kind == "http":
                    c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

        threading.Thread(target=serve, daemon=True).start()
        return s.getsockname()[1]

    yield start
    for s in socks:
        s.close()


def _one_line(address: str, budget: float) -> str:
    t0 = time.monotonic()
    with pytest.raises(MnistlabError) as e:
        cluster.connect(address=address)
    assert time.monotonic() - t0 < budget
    assert "\n" not in str(e.value)
    return str(e.value)


def test_a_silent_port_is_one_line_within_the_connect_timeout(peer):
    port = peer("silent")
    text = _one_line(f"tcp://127.0.0.1:{port}", cluster.CONNECT_TIMEOUT + 3)
    assert f"127.0.0.1:{port}" in text and "said nothing" in text


@pytest.mark.parametrize("kind", ["junk", "http"])
def test_a_port_answering_junk_or_http_is_one_line(peer, kind):
    port = peer(kind)
    text = _one_line(f"127.0.0.1:{port}", 2)
    assert "does not answer as a Dask scheduler" in text


def test_tls_without_dask_tls_settings_is_refused_by_name(peer):
    text = _one_line(f"tls://127.0.0.1:{peer('silent')}", 2)
    assert "TLS needs Dask's TLS settings" in text and "distributed.comm.tls.ca-file" in text


@pytest.mark.parametrize("address, what", [
    ("tcp://user:pw@127.0.0.1:8786", "user name or password"),
    ("tcp://127.0.0.1:8786/path?q=1#frag", "path"),
    ("127.0.0.1:8786?q=1", "query"),
    ("tcp://127.0.0.1:8786#frag", "fragment"),
])
def test_addresses_with_more_than_host_and_port_are_refused(address, what):
    assert f"takes no {what}" in _one_line(address, 1)


@pytest.mark.parametrize("address", ["ucx://127.0.0.1:1", "tcp://127.0.0.1:99999", "tcp://:8786",
                                     "tcp://127.0.0.1:8786\n\x1b[31mforged"])
def test_malformed_addresses_are_one_escaped_line(address):
    text = _one_line(address, 1)
    assert "expected tcp://HOST:PORT" in text and "\x1b" not in text


def test_a_stock_scheduler_passes_the_greeting_check():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                             "--port", str(port), "--no-dashboard"], stderr=subprocess.DEVNULL)
    try:
        t0 = time.monotonic()
        while True:
            try:
                cluster.probe(f"tcp://127.0.0.1:{port}")
                break
            except MnistlabError:
                assert time.monotonic() - t0 < 60 and proc.poll() is None
                time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(timeout=30)

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


def _certificates(folder):
    """A certificate authority and a certificate for 127.0.0.1 signed by it (PEM files), made with cryptography."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def make(name, issuer_key=None, issuer=None, ca=False):
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer or subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        cert = builder.sign(issuer_key or key, hashes.SHA256())
        return key, cert, subject

    ca_key, ca_cert, ca_name = make("mnistlab test CA", ca=True)
    key, cert, _ = make("127.0.0.1", ca_key, ca_name)
    files = {}
    for name, data in (("ca.pem", ca_cert.public_bytes(serialization.Encoding.PEM)),
                       ("cert.pem", cert.public_bytes(serialization.Encoding.PEM)),
                       ("key.pem", key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))):
        (folder / name).write_bytes(data)
        files[name] = str(folder / name)
    return files


def test_tls_with_dask_tls_settings_reaches_a_tls_scheduler(tmp_path, monkeypatch):
    """tls:// with distributed.comm.tls.* set: the handshake succeeds (the scheduler then has no workers)."""
    import dask

    pem = _certificates(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                             "--port", str(port), "--no-dashboard", "--protocol", "tls",
                             "--tls-ca-file", pem["ca.pem"], "--tls-cert", pem["cert.pem"],
                             "--tls-key", pem["key.pem"]], stderr=subprocess.DEVNULL)
    monkeypatch.setattr(cluster, "WORKERS_TIMEOUT", 1)
    settings = {"distributed.comm.tls.ca-file": pem["ca.pem"], "distributed.comm.tls.client.cert": pem["cert.pem"],
                "distributed.comm.tls.client.key": pem["key.pem"]}
    try:
        t0 = time.monotonic()
        while True:
            with dask.config.set(settings), pytest.raises(MnistlabError) as e:
                cluster.connect(address=f"tls://127.0.0.1:{port}")
            if "has no workers" in str(e.value):
                break
            assert time.monotonic() - t0 < 60 and proc.poll() is None, str(e.value)
            time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=30)

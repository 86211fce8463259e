"""mnistlab.data.sources downloads: from a local server, verified before kept, never half-written."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from mnistlab.data import download
from mnistlab.data.sources import load
from mnistlab.errors import DataError

GZ = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)
SERVER_LIFETIME_S = 60  # a server a test forgets to stop stops by itself


class _Handler(http.server.SimpleHTTPRequestHandler):
    short_by = 0  # > 0: announce the full length, send fewer bytes, hang up (an interrupted download)

    def log_message(self, *args):  # keep pytest's output clean
        pass

    def copyfile(self, source, outputfile):
        if self.short_by:
            data = source.read()
            outputfile.write(data[: len(data) - self.short_by])
            self.close_connection = True
        else:
            super().copyfile(source, outputfile)


@pytest.fixture
def serve(monkeypatch):
    """serve(folder, short_by=0) -> the base URL of a 127.0.0.1 server of ``folder``; allows downloads."""
    servers = []

    def start(folder: Path, short_by: int = 0) -> str:
        handler = type("Handler", (_Handler,), {"short_by": short_by})
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
        )
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        stopper = threading.Timer(SERVER_LIFETIME_S, server.shutdown)
        stopper.daemon = True
        stopper.start()
        servers.append((server, stopper))
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        monkeypatch.setenv("MNISTLAB_DOWNLOAD_URL", url)
        monkeypatch.delenv("MNISTLAB_NO_DOWNLOAD")
        return url

    yield start
    for server, stopper in servers:
        stopper.cancel()
        server.shutdown()
        server.server_close()


def cache() -> Path:
    return Path(os.environ["KERAS_HOME"]) / "datasets"


def listing(folder: Path) -> list[str]:
    """Every file under ``folder``, hidden temporary files included."""
    return (
        sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        if folder.exists()
        else []
    )


def serving(tmp_path: Path, shared: Path, **replace: bytes) -> Path:
    """A folder serving Fashion-MNIST's four files, some replaced by ``replace`` (name -> bytes)."""
    folder = tmp_path / "www"
    folder.mkdir()
    for name in GZ:
        key = name.split(".")[0].replace("-", "_")
        if key in replace:
            (folder / name).write_bytes(replace[key])
        else:
            (folder / name).symlink_to(shared / "fashion-mnist" / name)
    return folder


def test_download_fashion(serve, shared_datasets, capsys):
    url = serve(shared_datasets / "fashion-mnist")
    d = load("fashion_mnist")
    assert (d.verified, d.layout, d.source) == (True, "idx-gz", url)
    assert d.y_train[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert listing(cache()) == sorted(f"fashion-mnist/{n}" for n in GZ)
    for name in GZ:
        assert (cache() / "fashion-mnist" / name).read_bytes() == (
            shared_datasets / "fashion-mnist" / name
        ).read_bytes()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 4
    assert all(f"from {url}" in line and " MB)" in line for line in lines)
    # Now in the Keras cache: read from there, nothing downloaded.
    again = load("fashion_mnist")
    assert (again.source, again.verified) == (str(cache() / "fashion-mnist"), True)
    assert capsys.readouterr().err == ""


def test_download_mnist_npz(serve, shared_datasets, tmp_path, capsys):
    www = tmp_path / "www"
    www.mkdir()
    arrays = {}
    for key, stem in (
        ("x_train", "train-images"),
        ("y_train", "train-labels"),
        ("x_test", "t10k-images"),
        ("y_test", "t10k-labels"),
    ):
        [path] = (shared_datasets / "mnist").glob(f"{stem}-*.gz")
        raw = gzip.decompress(path.read_bytes())
        arrays[key] = np.frombuffer(raw, np.uint8, offset=16 if key[0] == "x" else 8)
        arrays[key] = arrays[key].reshape(-1, 28, 28) if key[0] == "x" else arrays[key]
    np.savez(www / "mnist.npz", **arrays)
    url = serve(www)
    d = load("mnist")
    assert (d.verified, d.layout, d.source) == (True, "npz", url + "mnist.npz")
    assert d.y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert listing(cache()) == ["mnist.npz"]
    assert "MNIST (mnist.npz)" in capsys.readouterr().err


def test_corrupt_download_is_not_kept(serve, shared_datasets, tmp_path):
    labels = bytearray(gzip.decompress((shared_datasets / "fashion-mnist" / GZ[0]).read_bytes()))
    labels[8 + 1234] = (labels[8 + 1234] + 1) % 10  # well-formed, one label off
    url = serve(serving(tmp_path, shared_datasets, train_labels_idx1_ubyte=gzip.compress(bytes(labels))))
    with pytest.raises(DataError) as e:
        load("fashion_mnist")
    assert str(e.value) == (
        f"{url}{GZ[0]}: downloaded file rejected: y_train differs from the published Fashion-MNIST "
        f"(sha256 {hashlib.sha256(labels).hexdigest()[:8]}…)"
    )
    assert GZ[0] not in " ".join(listing(cache()))  # neither under its name nor as a temporary file
    with pytest.raises(DataError):  # still refused with trust: a download is always verified
        load("fashion_mnist", trust=True)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (lambda gz: gz[: len(gz) // 2], "truncated gzip"),
        (lambda gz: b"<html>moved</html>", "not a valid gzip"),
    ],
    ids=["truncated", "html"],
)
def test_broken_download_is_not_kept(content, problem, serve, shared_datasets, tmp_path):
    images = (shared_datasets / "fashion-mnist" / GZ[3]).read_bytes()
    url = serve(serving(tmp_path, shared_datasets, t10k_images_idx3_ubyte=content(images)))
    with pytest.raises(DataError, match=f"^{url}{GZ[3]}: downloaded file rejected: {problem}"):
        load("fashion_mnist")
    assert GZ[3] not in " ".join(listing(cache()))
    assert len(listing(cache())) == 2  # the two fetched before it are kept, each verified


def test_interrupted_download_is_not_kept(serve, shared_datasets):
    url = serve(shared_datasets / "fashion-mnist", short_by=1000)
    with pytest.raises(
        DataError,
        match=f"^{url}train-images-idx3-ubyte.gz: download truncated \\(26420856 of 26421856 bytes\\)",
    ):
        load("fashion_mnist")
    assert listing(cache()) == []


def test_incomplete_cache_is_completed(serve, shared_datasets, capsys):
    for name in GZ[:2]:
        (cache() / "fashion-mnist").mkdir(parents=True, exist_ok=True)
        (cache() / "fashion-mnist" / name).symlink_to(shared_datasets / "fashion-mnist" / name)
    serve(shared_datasets / "fashion-mnist")
    assert load("fashion_mnist").verified
    assert len(capsys.readouterr().err.splitlines()) == 2  # only the two missing files
    assert listing(cache()) == sorted(f"fashion-mnist/{n}" for n in GZ)


def test_http_error(serve, tmp_path):
    (tmp_path / "empty").mkdir()
    url = serve(tmp_path / "empty")
    with pytest.raises(DataError, match=f"^{url}mnist.npz: download failed \\(HTTP 404 "):
        load("mnist")
    assert listing(cache()) == []


def test_no_download_and_nothing_anywhere(tmp_path, monkeypatch):
    monkeypatch.setenv("MNISTLAB_DOWNLOAD_URL", "http://127.0.0.1:9/")  # would fail if tried
    with pytest.raises(DataError) as e:
        load("mnist", tmp_path)
    message = str(e.value)
    assert message.startswith("mnist not found; looked in ")
    for place in (tmp_path, Path(os.environ["KERAS_HOME"]) / "datasets", os.environ["MNISTLAB_SYSTEM_DATA"]):
        assert str(place) in message
    assert "MNISTLAB_NO_DOWNLOAD=1" in message and "\n" not in message


def test_download_url_must_be_http(monkeypatch):
    monkeypatch.delenv("MNISTLAB_NO_DOWNLOAD")
    monkeypatch.setenv("MNISTLAB_DOWNLOAD_URL", "file:///etc/")
    with pytest.raises(DataError, match="not an http"):
        load("mnist")
    monkeypatch.delenv("MNISTLAB_DOWNLOAD_URL")
    assert download.base_url() == download.DEFAULT_BASE_URL


def test_unreachable_server(monkeypatch):
    monkeypatch.delenv("MNISTLAB_NO_DOWNLOAD")
    monkeypatch.setenv("MNISTLAB_DOWNLOAD_URL", "http://127.0.0.1:9")  # discard port: refused
    with pytest.raises(DataError, match=r"^http://127.0.0.1:9/mnist.npz: download failed \(.*refused"):
        load("mnist")

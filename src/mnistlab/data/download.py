"""Download one file over HTTP(S) into place, all or nothing, checked before it is kept."""

from __future__ import annotations

import http.client
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from mnistlab.errors import DataError, MnistlabError
from mnistlab.fileio import atomic_path

# Where Keras' own loaders fetch MNIST and Fashion-MNIST (keras/src/datasets/mnist.py,
# fashion_mnist.py); $MNISTLAB_DOWNLOAD_URL replaces it (a mirror, or a test server).
DEFAULT_BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
TIMEOUT_S = 30  # seconds without progress (connect or read) before giving up
MAX_BYTES = 128 * 1024 * 1024  # the largest file here is 26 MB; refuse anything far bigger
_CHUNK = 1024 * 1024


def base_url() -> str:
    """The folder URL files are fetched from: ``$MNISTLAB_DOWNLOAD_URL`` or Keras' origin.

    Raises:
        DataError: ``$MNISTLAB_DOWNLOAD_URL`` is not an http(s) URL.
    """
    url = os.environ.get("MNISTLAB_DOWNLOAD_URL") or DEFAULT_BASE_URL
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise DataError("not an http(s) URL (from $MNISTLAB_DOWNLOAD_URL)", url)
    return url if url.endswith("/") else url + "/"


def fetch(url: str, dest: str | os.PathLike, check: Callable[[Path], None], what: str) -> None:
    """Download ``url`` to ``dest``; ``check`` must accept the file before it gets that name.

    The bytes go to a temporary file beside ``dest`` which is flushed, checked and only then
    renamed, so an interrupted, truncated or corrupt download never lies under ``dest``.
    Prints one progress line to stderr.

    Args:
        url: the file to fetch (http or https).
        dest: where the file is kept.
        check: called with the temporary file; raises `DataError` to reject it.
        what: a few words naming the file in the progress line.

    Raises:
        DataError: the download failed or was rejected by ``check`` (naming ``url``), or
            ``dest``'s folder cannot be written.
    """
    try:
        with atomic_path(dest) as tmp:
            _download(url, tmp, what)
            try:
                check(tmp)
            except DataError as e:
                raise DataError(f"downloaded file rejected: {e.message}", url) from None
    except DataError:
        raise
    except MnistlabError as e:  # atomic_path: the cache folder is not writable
        raise DataError(e.message, e.path) from None


OFFLINE_HINT = ("; offline, point --data (or $MNISTLAB_DATA) at a folder holding the files, "
                "see the README's Data section")


def _download(url: str, tmp: Path, what: str) -> None:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp, open(tmp, "wb") as f:
            length = resp.headers.get("Content-Length")
            length = int(length) if length and length.isdigit() else None
            size = f"{length / 1e6:.1f} MB" if length is not None else "size unknown"
            print(f"mnistlab: downloading {what} from {url} ({size})", file=sys.stderr, flush=True)
            if length is not None and length > MAX_BYTES:
                raise DataError(f"server announces {length} bytes, more than any MNIST file", url)
            got = 0
            while chunk := resp.read(_CHUNK):
                got += len(chunk)
                if got > MAX_BYTES:
                    raise DataError(f"more than {MAX_BYTES // 2**20} MiB, not an MNIST file", url)
                f.write(chunk)
    except urllib.error.HTTPError as e:
        raise DataError(f"download failed (HTTP {e.code} {e.reason}){OFFLINE_HINT}", url) from None
    except urllib.error.URLError as e:
        raise DataError(f"download failed ({e.reason}){OFFLINE_HINT}", url) from None
    except (OSError, http.client.HTTPException, ValueError) as e:
        # Timeouts, resets, a connection closed before Content-Length bytes (IncompleteRead).
        raise DataError(f"download failed ({type(e).__name__}: {e}){OFFLINE_HINT}", url) from None
    if length is not None and got != length:
        raise DataError(f"download truncated ({got} of {length} bytes)", url)

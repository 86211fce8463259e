"""``mnistlab serve``: one local page to draw or upload an image, and the JSON endpoint behind it.

Routes:

- ``GET /``, ``/app.js``, ``/style.css``: the page, from ``static/`` in the package, held in memory. Nothing is
  fetched from the network (Content-Security-Policy ``default-src 'none'`` plus 'self' where needed).
- ``GET /api/models``: the models on offer, their data set, test accuracy and class names.
- ``POST /api/predict?model=mnist|fashion[&top=3]``: the request body is the image file itself
  (``curl --data-binary @digit.png -H 'Content-Type: image/png' http://127.0.0.1:8000/api/predict``).
  Answers ``{"model", "dataset", "top": [{"class", "label", "probability"}], "input": "data:image/png;..."}``
  where ``input`` is the 28x28 image the model saw; or ``{"error": "..."}`` with 400 (not a usable image),
  413 (over the size limit), 415 (a multipart form) or 400 (unknown model).

Safe by default: listens on 127.0.0.1; the upload size is checked from Content-Length before the body is
read and again while it streams in; the image's pixel count is checked from its header before decoding
(:mod:`mnistlab.data.preprocess`); uploads live in memory only and no client-supplied name is ever used.
"""

from __future__ import annotations

import base64
import contextlib
import io
import socket
import sys
import threading
import time
from collections.abc import Iterator
from importlib import resources
from typing import TextIO

from mnistlab.data import preprocess
from mnistlab.data.preprocess import ImageError
from mnistlab.errors import MnistlabError
from mnistlab.i18n import class_names

MAX_UPLOAD_BYTES = 10 * 2**20  # largest accepted upload, bytes (10 MiB: a phone photo fits)
MAX_CONCURRENCY = 64  # connections served at once; more get 503 (uvicorn's limit_concurrency)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MODEL_IDS = {"mnist": "mnist", "digits": "mnist", "fashion": "fashion_mnist", "fashion_mnist": "fashion_mnist"}
STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/style.css": ("style.css", "text/css; charset=utf-8")}
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:;"
                                " connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class Models:
    """The shipped models (or others given by the caller), loaded once, on first use, thread-safely."""

    def __init__(self, specs: dict[str, str] | None = None):
        self.specs = specs or {"mnist": "mnist", "fashion_mnist": "fashion"}
        self._loaded: dict = {}
        self._lock = threading.Lock()

    def get(self, dataset: str):
        with self._lock:
            if dataset not in self._loaded:
                from mnistlab.predict import load_model

                self._loaded[dataset] = load_model(self.specs[dataset])
            return self._loaded[dataset]

    def warm_up(self) -> None:
        """Load every model and run it once, so the first visitor does not wait for tracing."""
        import numpy as np

        for dataset in self.specs:
            self.get(dataset).probabilities(np.zeros((1, 28, 28), dtype=np.uint8))


def _error(status: int, message: str):
    from starlette.responses import JSONResponse

    return JSONResponse({"error": message}, status_code=status, headers={"Cache-Control": "no-store"})


def _png_data_url(image) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image, mode="L").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def create_app(models: Models | None = None, lang: str = "fr", max_bytes: int = MAX_UPLOAD_BYTES,
               max_pixels: int = preprocess.MAX_PIXELS):
    """The Starlette application.

    Args:
        models: where models come from (default: the shipped ones, loaded on first use).
        lang: language of class names (fr, en).
        max_bytes: larger uploads get 413 without being read.
        max_pixels: larger images get 400 from their header, without being decoded.
    """
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    models = models or Models()
    static = {route: (resources.files("mnistlab.web").joinpath("static", name).read_bytes(), media)
              for route, (name, media) in STATIC.items()}

    async def page(request):
        body, media = static[request.url.path]
        return Response(body, media_type=media, headers={"Cache-Control": "no-cache", **SECURITY_HEADERS})

    def describe() -> list[dict]:
        out = []
        for dataset in models.specs:
            try:
                m = models.get(dataset)
            except MnistlabError as e:
                out.append({"id": dataset, "error": str(e)})
                continue
            out.append({"id": dataset, "description": m.description, "test_accuracy": m.test_accuracy,
                        "classes": class_names(dataset, lang)})
        return out

    async def api_models(request):
        out = await run_in_threadpool(describe)
        return JSONResponse({"lang": lang, "max_bytes": max_bytes, "models": out}, headers=SECURITY_HEADERS)

    async def api_predict(request):
        dataset = MODEL_IDS.get(request.query_params.get("model", "mnist"))
        if dataset is None or dataset not in models.specs:
            return _error(400, "unknown model: use model=mnist or model=fashion")
        try:
            top = int(request.query_params.get("top", "3"))
        except ValueError:
            top = 0
        if not 1 <= top <= 10:
            return _error(400, "top must be a whole number from 1 to 10")
        if request.headers.get("content-type", "").lower().startswith("multipart/"):
            return _error(415, "send the image file itself as the request body, not a form "
                               "(curl --data-binary @image.png)")
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                return _error(400, "bad Content-Length")
            if int(declared) > max_bytes:  # refused before a byte of the body is read
                return _error(413, f"upload too large: {int(declared):,} bytes, the limit is {max_bytes:,}")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_bytes:  # no or false Content-Length (chunked upload): stop reading here
                return _error(413, f"upload too large: over the limit of {max_bytes:,} bytes")
        if not body:
            return _error(400, "empty upload: send an image file as the request body")
        t0 = time.perf_counter()

        def work():
            from mnistlab.predict import Result

            image = preprocess.load(bytes(body), dataset, max_pixels)
            model = models.get(dataset)  # loaded once, off the event loop
            return model, Result("upload", image=image, probabilities=model.probabilities(image[None])[0])

        try:
            model, result = await run_in_threadpool(work)
        except ImageError as e:
            return _error(400, e.message)
        except MnistlabError as e:  # the model itself is missing or broken
            return _error(500, str(e))
        return JSONResponse({"model": dataset, "dataset": dataset, "description": model.description,
                             "top": result.top(top, class_names(dataset, lang)),
                             "input": _png_data_url(result.image),
                             "milliseconds": round((time.perf_counter() - t0) * 1000, 1)},
                            headers={"Cache-Control": "no-store"})

    routes = [Route(path, page, methods=["GET", "HEAD"]) for path in STATIC]
    routes += [Route("/api/models", api_models, methods=["GET"]),
               Route("/api/predict", api_predict, methods=["POST"])]
    return Starlette(routes=routes)


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port)."""
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)
    except OSError as e:
        raise MnistlabError(f"cannot listen on {host}:{port} ({e.strerror or e})") from None
    return sock


def _server(app, sock: socket.socket):
    import uvicorn

    cfg = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False, lifespan="off",
                         limit_concurrency=MAX_CONCURRENCY, timeout_keep_alive=5)
    return uvicorn.Server(cfg)


@contextlib.contextmanager
def running(app, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 30.0) -> Iterator[str]:
    """Serve ``app`` from a background thread; yields its base URL; stops it on exit (tests, benchmarks)."""
    sock = _bind(host, port)
    server = _server(app, sock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="mnistlab-web")
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise MnistlabError("the web server did not start")
        time.sleep(0.02)
    try:
        shown = f"[{host}]" if ":" in host else host
        yield f"http://{shown}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)
        sock.close()


def serve(host: str = "127.0.0.1", port: int = 8000, lang: str = "fr", stream: TextIO | None = None) -> int:
    """``mnistlab serve``: load the models, then serve the page until Ctrl-C."""
    stream = stream or sys.stderr
    if not 0 <= port <= 65535:
        raise MnistlabError(f"--port must be between 0 and 65535, got {port}")
    if host not in LOOPBACK:
        print(f"mnistlab: warning: listening on {host}, not 127.0.0.1: anyone who can reach this machine can "
              "use the page (there is no login)", file=stream)
    sock = _bind(host, port)
    from mnistlab.backend import quiet

    quiet()
    models = Models()
    models.warm_up()
    app = create_app(models, lang=lang)
    shown = f"[{host}]" if ":" in host else host
    print(f"mnistlab: serving http://{shown}:{sock.getsockname()[1]}/  (Ctrl-C stops)", file=stream, flush=True)
    try:
        _server(app, sock).run(sockets=[sock])
    finally:
        sock.close()
    return 0

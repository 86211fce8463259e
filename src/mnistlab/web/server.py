"""``mnistlab serve``: one local page to draw or upload an image, and the JSON endpoint behind it.

Routes:

- ``GET /``, ``/app.js``, ``/style.css``: the page, from ``static/`` in the package, held in memory. Nothing is
  fetched from the network (Content-Security-Policy ``default-src 'none'`` plus 'self' where needed).
- ``GET /api/models``: the models on offer, their data set, test accuracy and class names.
- ``POST /api/predict?model=mnist|fashion[&top=3]``: the request body is the image file itself
  (``curl --data-binary @digit.png -H 'Content-Type: image/png' http://127.0.0.1:8000/api/predict``) or a
  multipart form with one file field of any name (``curl -F file=@digit.png ...``; see :mod:`.upload`).
  Answers ``{"model", "dataset", "top": [{"class", "label", "probability"}], "input": "data:image/png;..."}``
  where ``input`` is the 28x28 image the model saw; or ``{"error": "..."}`` with 400 (not a usable image,
  unknown model), 403 (foreign Host or Origin), 408 (too slow), 413 (over the size limit), 431 (headers
  too large) or 503 (too many uploads waiting over 10 s).

Safe by default: listens on 127.0.0.1 and then answers only to Host 127.0.0.1 or localhost, never to a
foreign Origin (:mod:`.guard`); headers must arrive within 10 s and the body within 20 s, at 32 KiB/s or
more after its first half second (a slow upload cannot hold an upload slot); idle connections give way to
real requests (:class:`.guard.GuardedH11`); a form is parsed off the event loop; the upload size
is checked from Content-Length before the body is read and again while it streams in; the image's pixel
count and decoding memory are checked from its header, and decoding is bounded in CPU, stopped when the
client leaves, and limited to two at a time (:mod:`mnistlab.data.user_images`); uploads live in memory
only (never spooled to disk) and no client-supplied name is ever used.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import math
import socket
import sys
import threading
import time
from collections.abc import Iterator
from importlib import resources
from typing import TextIO

from mnistlab.data import user_images
from mnistlab.data.user_images import ImageError
from mnistlab.errors import MnistlabError
from mnistlab.i18n import class_names
from mnistlab.web import guard, upload

MAX_UPLOAD_BYTES = 10 * 2**20  # largest accepted upload, bytes (10 MiB: a phone photo fits)
MAX_CONNECTIONS = 512  # open connections at once; more get 503 (uvicorn's limit_concurrency)
MAX_UPLOADS = 16  # uploads being read or decoded at once; more wait (at most 16 bodies in memory)
QUEUE_TIMEOUT_S = 10.0  # an upload waits this long for one of those slots, then gets 503
DECODE_CONCURRENCY = 2  # images decoded at once: one per core; each decode takes up to about 200 MiB
BODY_TIMEOUT_S = 20.0  # an upload's body must arrive within this; 408 otherwise
MIN_UPLOAD_RATE = 32 * 1024  # bytes/s an upload must keep up after RATE_GRACE_S, or 408 (frees its slot)
RATE_GRACE_S = 0.5  # seconds before the minimum rate applies
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


def _error(status: int, message: str, headers: dict[str, str] | None = None):
    """A JSON error; the connection is closed after a 408 or 413 (the rest of the body is never read)."""
    from starlette.responses import JSONResponse

    extra = {"Connection": "close"} if status in (408, 413) else {}
    return JSONResponse({"error": message}, status_code=status,
                        headers={"Cache-Control": "no-store", **extra, **(headers or {})})


def _png_data_url(image) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image, mode="L").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def create_app(models: Models | None = None, lang: str = "fr", max_bytes: int = MAX_UPLOAD_BYTES,
               max_pixels: int = user_images.MAX_PIXELS, loopback: bool = True,
               body_timeout_s: float = BODY_TIMEOUT_S, decode_concurrency: int = DECODE_CONCURRENCY,
               max_uploads: int = MAX_UPLOADS, cpu_limit_s: float = user_images.DECODE_CPU_S,
               host: str = "127.0.0.1", min_rate: int = MIN_UPLOAD_RATE, rate_grace_s: float = RATE_GRACE_S):
    """The ASGI application: Starlette's routes inside :func:`mnistlab.web.guard.host_guard`.

    Args:
        models: where models come from (default: the shipped ones, loaded on first use).
        lang: language of the page and of class names (fr, en).
        max_bytes: larger uploads get 413 without being read.
        max_pixels: larger images get 400 from their header, without being decoded.
        loopback: the server listens on a loopback address: only Host values naming it are served.
        body_timeout_s: an upload body must arrive within this (408 otherwise).
        decode_concurrency: images decoded at once (each takes up to about 200 MiB).
        max_uploads: uploads read or decoded at once; more wait up to ``QUEUE_TIMEOUT_S``, then get 503
            (bounds the memory bodies take).
        cpu_limit_s: CPU seconds one image's decoding may take (400 past it).
        host: the address the server listens on; with ``loopback``, ``Host`` may name it (``127.0.0.2``).
        min_rate: bytes per second an upload must keep up after ``rate_grace_s`` seconds (408 otherwise), so
            slow clients cannot hold every upload slot.
    """
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import ClientDisconnect
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    models = models or Models()
    static = {route: (resources.files("mnistlab.web").joinpath("static", name).read_bytes(), media)
              for route, (name, media) in STATIC.items()}
    static["/"] = (static["/"][0].replace(b'<html lang="fr">', f'<html lang="{lang}">'.encode()), static["/"][1])

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

    limits: dict = {}  # the upload and decode semaphores

    async def read_body(request):
        """The request body, or an error response: 413 past ``limit``, 408 past ``body_timeout_s`` or under
        ``min_rate`` after ``rate_grace_s``, 400 when the client left."""
        limit = max_bytes + upload.FORM_OVERHEAD if upload.is_form(request.headers.get("content-type", "")) \
            else max_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                return None, _error(400, "bad Content-Length")
            if int(declared) > limit:  # refused before a byte of the body is read
                return None, _error(413, f"upload too large: {int(declared):,} bytes, the limit is {max_bytes:,}")
        body = bytearray()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        too_slow = ""
        try:
            async with asyncio.timeout(body_timeout_s) as whole:
                chunks = aiter(request.stream())
                while True:
                    # the next byte is due before the client falls under min_rate after the grace period
                    due = min(t0 + rate_grace_s + (len(body) + 1) / min_rate, whole.when() or math.inf)
                    try:
                        async with asyncio.timeout_at(due):
                            chunk = await anext(chunks)
                    except StopAsyncIteration:
                        break
                    except TimeoutError:
                        if whole.expired():
                            raise
                        too_slow = f"slower than {min_rate:,} bytes/s"
                        raise
                    body += chunk
                    if len(body) > limit:  # no or false Content-Length (chunked upload): stop reading here
                        return None, _error(413, f"upload too large: over the limit of {max_bytes:,} bytes")
        except TimeoutError:
            what = too_slow or f"did not arrive within {body_timeout_s:g} s"
            return None, _error(408, f"the upload {what} ({len(body):,} bytes received)")
        except ClientDisconnect:
            return None, _error(400, "the client left during its upload")  # sent to no one, logged nowhere
        return bytes(body), None

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
        if "uploads" not in limits:  # made on the server's event loop
            limits["uploads"] = asyncio.Semaphore(max_uploads)
            limits["decodes"] = asyncio.Semaphore(decode_concurrency)
        try:  # a request waits for a slot before its body is read: at most max_uploads bodies in memory
            async with asyncio.timeout(QUEUE_TIMEOUT_S):
                await limits["uploads"].acquire()
        except TimeoutError:
            return _error(503, "busy: too many uploads at once; try again in a moment", {"Retry-After": "1"})
        try:
            return await predict_upload(request, dataset, top)
        finally:
            limits["uploads"].release()

    async def predict_upload(request, dataset: str, top: int):
        content_type = request.headers.get("content-type", "")
        body, refused = await read_body(request)
        if body is None:
            return refused
        t0 = time.perf_counter()
        cancel = threading.Event()

        def work():
            from mnistlab.predict import Result

            image_bytes = upload.file_bytes(body, content_type, max_bytes)  # a form is parsed here, off the loop
            if not image_bytes:
                raise upload.UploadError("empty upload: send an image file as the request body or a form's file "
                                         "field")
            image = user_images.load(image_bytes, dataset, max_pixels, cancel=cancel, cpu_limit_s=cpu_limit_s)
            model = models.get(dataset)  # loaded once, off the event loop
            return model, Result("upload", image=image, probabilities=model.probabilities(image[None])[0])

        async def watch_disconnect():
            while (await request.receive())["type"] != "http.disconnect":
                pass
            cancel.set()  # the decoder stops at its next block

        watcher = asyncio.ensure_future(watch_disconnect())
        try:
            async with limits["decodes"]:
                if cancel.is_set():
                    return _error(400, "the client left")
                model, result = await run_in_threadpool(work)
        except upload.UploadError as e:
            return _error(e.status, e.message)
        except ImageError as e:
            hint = ""
            if content_type.lower().startswith("application/x-www-form-urlencoded"):
                hint = " (curl -d changes binary files: send them with --data-binary @file or -F file=@file)"
            return _error(400, e.message + hint)
        except MnistlabError as e:  # the model itself is missing or broken
            return _error(500, str(e))
        finally:
            watcher.cancel()
        return JSONResponse({"model": dataset, "dataset": dataset, "description": model.description,
                             "top": result.top(top, class_names(dataset, lang)),
                             "input": _png_data_url(result.image),
                             "milliseconds": round((time.perf_counter() - t0) * 1000, 1)},
                            headers={"Cache-Control": "no-store"})

    routes = [Route(path, page, methods=["GET", "HEAD"]) for path in STATIC]
    routes += [Route("/api/models", api_models, methods=["GET"]),
               Route("/api/predict", api_predict, methods=["POST"])]
    return guard.host_guard(Starlette(routes=routes), loopback, host)


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
                         limit_concurrency=MAX_CONNECTIONS, timeout_keep_alive=5, http=guard.GuardedH11,
                         # h11 holds at most this much of an unfinished request head; GuardedH11 answers 431
                         # past MAX_HEADER_BYTES, well before it
                         h11_max_incomplete_event_size=16 * guard.MAX_HEADER_BYTES)
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
    loopback = guard.is_loopback(host)
    if not loopback:
        print(f"mnistlab: warning: listening on {host}: anyone on a network that reaches this machine can use "
              "the page (no login); the upload, memory, CPU and time limits still apply", file=stream)
    sock = _bind(host, port)
    from mnistlab.backend import quiet

    quiet()
    models = Models()
    models.warm_up()
    app = create_app(models, lang=lang, loopback=loopback, host=host)
    shown = f"[{host}]" if ":" in host else host
    print(f"mnistlab: serving http://{shown}:{sock.getsockname()[1]}/  (Ctrl-C stops)", file=stream, flush=True)
    try:
        _server(app, sock).run(sockets=[sock])
    finally:
        sock.close()
    return 0

"""Latency of POST /api/predict under concurrent clients, on loopback only.

    python benchmarks/web_latency.py [--clients 8] [--requests 800] [--seconds 60] [--model mnist]

Starts `mnistlab serve --port 0` in a subprocess (127.0.0.1), waits for it, then N client threads each send
the same 280x280 canvas PNG (what the page sends) over a kept-alive connection until the request count or
the time is used up. Prints p50/p95/p99 latency and throughput, then stops the server.
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np


def canvas_png() -> bytes:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (280, 280), "white")
    ImageDraw.Draw(im).line([(70, 60), (200, 60), (120, 240)], fill="black", width=20)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def start_server(timeout_s: float = 120.0) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-m", "mnistlab.cli", "serve", "--host", "127.0.0.1", "--port", "0"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + timeout_s
    lines = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"serving http://127\.0\.0\.1:(\d+)/", line)
        if m:
            threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep draining
            return proc, int(m.group(1))
    proc.kill()
    raise SystemExit("the server did not start:\n" + "".join(lines))


def stop_server(proc: subprocess.Popen) -> None:
    """Ctrl-C the server, as a user would; kill it if it has not stopped within 15 s."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


def client(port: int, body: bytes, path: str, stop: threading.Event, budget: list[int], lock: threading.Lock,
           out: list[float], errors: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        while not stop.is_set():
            with lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            t0 = time.perf_counter()
            conn.request("POST", path, body=body, headers={"Content-Type": "image/png"})
            res = conn.getresponse()
            res.read()
            dt = time.perf_counter() - t0
            if res.status != 200:
                errors.append(str(res.status))
            out.append(dt)
    except OSError as e:
        errors.append(str(e))
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    p.add_argument("--requests", type=int, default=800, help="requests in all, at most (default 800)")
    p.add_argument("--seconds", type=float, default=60.0, help="time limit of the measurement (default 60)")
    p.add_argument("--warmup", type=int, default=20, help="requests sent first and not counted (default 20)")
    p.add_argument("--model", default="mnist", choices=("mnist", "fashion"))
    args = p.parse_args(argv)
    body = canvas_png()
    path = f"/api/predict?model={args.model}"
    proc, port = start_server()
    try:
        warm: list[float] = []
        client(port, body, path, threading.Event(), [args.warmup], threading.Lock(), warm, [])
        stop, lock = threading.Event(), threading.Lock()
        budget, times, errors = [args.requests], [], []
        threads = [threading.Thread(target=client, args=(port, body, path, stop, budget, lock, times, errors))
                   for _ in range(args.clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(0.0, args.seconds - (time.perf_counter() - t0)))
        stop.set()
        for t in threads:
            t.join(30)
        wall = time.perf_counter() - t0
    finally:
        stop_server(proc)
    ms = np.array(times) * 1000
    if not len(ms):
        print("no request completed", errors[:3])
        return 1
    print(f"POST /api/predict ({args.model}, {len(body):,}-byte PNG), {args.clients} clients, {len(ms)} requests "
          f"in {wall:.1f}s on {os.cpu_count()} cores:")
    print(f"  p50 {np.percentile(ms, 50):.1f} ms   p95 {np.percentile(ms, 95):.1f} ms   "
          f"p99 {np.percentile(ms, 99):.1f} ms   max {ms.max():.1f} ms   {len(ms) / wall:.0f} requests/s")
    if errors:
        print(f"  {len(errors)} errors, e.g. {errors[0]}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

"""Load and hostile clients against `mnistlab serve` on loopback: latency, errors, server memory.

    python benchmarks/web_load.py [--seconds 30] [--clients 8 32] [--requests 2000]

Starts `mnistlab serve --port 0` (127.0.0.1) in a subprocess and prints, each from the server's
/proc/PID/status (VmRSS now, VmHWM the peak since the last reset):

1. RSS idle, then after ``--requests`` requests of a 280x280 canvas PNG by 8 clients (memory growth);
2. for each ``--clients`` count, that many kept-alive clients for ``--seconds``: requests/s, p50/p95/p99
   latency, errors;
3. 64 connections sending their headers a byte a second while one normal request is timed;
4. 4 uploads at once of the largest RGBA PNG the reader accepts (23.7 MP, 100 KB): status, seconds, and
   the server's peak RSS over idle (the decode semaphore lets two decode at a time).
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import socket
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from web_latency import canvas_png, client, start_server, stop_server  # noqa: E402


def proc_mib(pid: int, key: str) -> float:
    with open(f"/proc/{pid}/status") as f:
        return int(next(ln for ln in f if ln.startswith(key)).split()[1]) / 1024


def reset_peak(pid: int) -> None:
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")  # VmHWM back to the current RSS


def load(port: int, body: bytes, clients: int, seconds: float, requests: int) -> tuple[list[float], list[str], float]:
    stop, lock = threading.Event(), threading.Lock()
    budget, times, errors = [requests], [], []
    path = "/api/predict?model=mnist"
    threads = [threading.Thread(target=client, args=(port, body, path, stop, budget, lock, times, errors))
               for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, seconds - (time.perf_counter() - t0)))
    stop.set()
    for t in threads:
        t.join(60)
    return times, errors, time.perf_counter() - t0


def summary(times: list[float], errors: list[str], wall: float) -> str:
    ms = np.array(times) * 1000
    if not len(ms):
        return f"no request completed; errors {errors[:3]}"
    return (f"{len(ms)} requests in {wall:.1f} s, {len(ms) / wall:.0f} req/s, p50 {np.percentile(ms, 50):.0f} ms, "
            f"p95 {np.percentile(ms, 95):.0f} ms, p99 {np.percentile(ms, 99):.0f} ms, {len(errors)} errors"
            + (f" (e.g. {errors[0]})" if errors else ""))


def slowloris(port: int, count: int = 64) -> str:
    slow = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(count)]
    try:
        for s in slow:
            s.sendall(b"POST /api/predict HTTP/1.1\r\nHost: ")
        time.sleep(1)
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/")
        status = conn.getresponse().status
        answered = time.perf_counter() - t0
        t1 = time.perf_counter()
        closed = sum(1 for s in slow if s.recv(4096).startswith(b"HTTP/1.1 408"))
        return (f"{count} slow connections: a normal GET / answered {status} in {answered * 1000:.0f} ms; "
                f"{closed} of them got 408 and were closed {time.perf_counter() - t1 + 1:.1f} s after their first "
                "bytes")
    finally:
        for s in slow:
            s.close()


def big_uploads(pid: int, port: int, parallel: int = 4) -> str:
    from PIL import Image, ImageDraw

    from mnistlab.data import user_images

    side = int((user_images.MAX_DECODE_BYTES / 7 * 0.99) ** 0.5)
    im = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    ImageDraw.Draw(im).line([(side // 2, side // 8), (side // 2, side * 7 // 8)], fill=(0, 0, 0, 255),
                            width=side // 20)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    del im
    body = buf.getvalue()
    idle = proc_mib(pid, "VmRSS:")
    reset_peak(pid)
    results: list[str] = []

    def one():
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("POST", "/api/predict", body=body, headers={"Content-Type": "image/png"})
        res = conn.getresponse()
        res.read()
        results.append(f"{res.status} in {time.perf_counter() - t0:.1f} s")

    threads = [threading.Thread(target=one) for _ in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return (f"{parallel} uploads at once of a {side * side / 1e6:.1f} MP RGBA PNG ({len(body):,} bytes): "
            f"{', '.join(results)}; server peak {proc_mib(pid, 'VmHWM:') - idle:.0f} MiB over its "
            f"{idle:.0f} MiB idle")


def machine_line() -> str:
    """The line that closes a server benchmark's output: cores and the load average at the end."""
    return f"({os.cpu_count()} cores; {Path('/proc/loadavg').read_text().split()[0]} load average at the end)"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0, help="length of each load phase (default 30)")
    p.add_argument("--clients", type=int, nargs="+", default=[8, 32], help="client counts (default 8 32)")
    p.add_argument("--requests", type=int, default=2000, help="requests of the memory-growth phase (default 2000)")
    args = p.parse_args(argv)
    body = canvas_png()
    proc, port = start_server()
    pid = proc.pid
    try:
        load(port, body, 2, 60, 20)  # warm-up
        before = proc_mib(pid, "VmRSS:")
        times, errors, wall = load(port, body, 8, 3600, args.requests)
        after = proc_mib(pid, "VmRSS:")
        print(f"memory: server RSS {before:.0f} MiB before and {after:.0f} MiB after {len(times)} requests "
              f"({summary(times, errors, wall)})", flush=True)
        for n in args.clients:
            print(f"{n} clients, {args.seconds:g} s: {summary(*load(port, body, n, args.seconds, 10**9))}", flush=True)
        print(f"server RSS after the load phases: {proc_mib(pid, 'VmRSS:'):.0f} MiB", flush=True)
        print(slowloris(port), flush=True)
        print(big_uploads(pid, port), flush=True)
    finally:
        stop_server(proc)
    print(machine_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())

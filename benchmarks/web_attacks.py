"""A normal upload to `mnistlab serve` while it is attacked, beside its load figures, on loopback.

    python benchmarks/web_attacks.py [--probes 20] [--seconds 20]

Starts `mnistlab serve --port 0` (127.0.0.1) in a subprocess and prints, for ``--probes`` normal uploads (a
280x280 canvas PNG, one every 0.25 s) timed while each attack runs: p50, p95, the slowest, how many were
answered 200 within 1 s, and the attackers' own statuses:

1. multipart: 3 clients in a loop, each posting a 10 MiB form whose file is a PNG followed by 1.7 million
   near-boundary sequences (``\\r\\n--aX``, boundary ``a``);
2. idle: 600 connections that never send a byte, re-opened as the server closes them;
3. slow uploads: 16 uploads sending 1 byte a second, re-opened as the server cuts them off;

then the load: 8 and 32 kept-alive clients uploading for ``--seconds`` (requests/s, p50, p95, errors) with
the server's RSS (/proc/PID/status) before and after.
"""

from __future__ import annotations

import argparse
import http.client
import socket
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from web_latency import canvas_png, start_server, stop_server  # noqa: E402
from web_load import load, machine_line, proc_mib, summary  # noqa: E402


def probe(port: int, body: bytes, n: int) -> tuple[list[float], list[int]]:
    """``n`` normal uploads, one at a time, 0.25 s apart: seconds and status of each (599: no answer)."""
    times, statuses = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", "/api/predict?model=mnist", body=body, headers={"Content-Type": "image/png"})
            res = conn.getresponse()
            res.read()
            conn.close()
            statuses.append(res.status)
        except OSError:
            statuses.append(599)
        times.append(time.perf_counter() - t0)
        time.sleep(0.25)
    return times, statuses


def probe_line(name: str, times: list[float], statuses: list[int], attackers: Counter) -> str:
    ms = np.array(times) * 1000
    within = sum(1 for t, s in zip(times, statuses, strict=True) if s == 200 and t < 1.0)
    return (f"{name}: normal upload p50 {np.percentile(ms, 50):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms, "
            f"max {ms.max():.0f} ms; {within}/{len(times)} answered 200 within 1 s; probe statuses "
            f"{dict(Counter(statuses))}; attackers' {dict(attackers)}")


def boundary_form() -> tuple[bytes, str]:
    n = (10 * 2**20 - 4096) // 6
    body = (b"--a\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png"
            b"\r\n\r\n" + canvas_png() + b"\r\n--aX" * n + b"\r\n--a--\r\n")
    return body, "multipart/form-data; boundary=a"


def multipart_attack(port: int, stop: threading.Event, seen: Counter) -> None:
    body, kind = boundary_form()
    while not stop.is_set():
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("POST", "/api/predict", body=body, headers={"Content-Type": kind})
            res = conn.getresponse()
            res.read()
            conn.close()
            seen[res.status] += 1
        except OSError as e:
            seen[type(e).__name__] += 1


def idle_attack(port: int, stop: threading.Event, seen: Counter, count: int = 600) -> None:
    socks: list[socket.socket] = []
    try:
        while not stop.is_set():
            socks = [s for s in socks if _open(s, seen)]
            while len(socks) < count and not stop.is_set():
                try:
                    socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
                    seen["opened"] += 1
                except OSError as e:
                    seen[type(e).__name__] += 1
                    break
            time.sleep(0.05)
    finally:
        for s in socks:
            s.close()


def _open(s: socket.socket, seen: Counter) -> bool:
    """Is ``s`` still open (the server has sent nothing and not closed it)? Closes it otherwise."""
    s.setblocking(False)
    try:
        data = s.recv(64)
    except BlockingIOError:
        return True
    except OSError:
        data = b""
    seen["closed by server" + (" with " + data[9:12].decode() if data else "")] += 1
    s.close()
    return False


def slow_attack(port: int, stop: threading.Event, seen: Counter, count: int = 16) -> None:
    head = (f"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: image/png\r\n"
            "Content-Length: 100000\r\n\r\n").encode()
    socks: list[socket.socket] = []
    try:
        while not stop.is_set():
            socks = [s for s in socks if _open(s, seen)]
            while len(socks) < count:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(head)
                socks.append(s)
                seen["opened"] += 1
            for s in socks:
                try:
                    s.sendall(b"\0")
                except OSError:
                    pass
            stop.wait(1.0)
    finally:
        for s in socks:
            s.close()


def under(attack, port: int, body: bytes, n: int, settle_s: float) -> tuple[list[float], list[int], Counter]:
    stop, seen = threading.Event(), Counter()
    threads = [threading.Thread(target=attack, args=(port, stop, seen), daemon=True)
               for _ in range(3 if attack is multipart_attack else 1)]
    for t in threads:
        t.start()
    time.sleep(settle_s)
    try:
        times, statuses = probe(port, body, n)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    return times, statuses, seen


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--probes", type=int, default=20, help="normal uploads timed per attack (default 20)")
    p.add_argument("--seconds", type=float, default=20.0, help="length of each load phase (default 20)")
    args = p.parse_args(argv)
    body = canvas_png()
    proc, port = start_server()
    pid = proc.pid
    try:
        load(port, body, 2, 60, 20)  # warm-up
        times, statuses = probe(port, body, args.probes)
        print(probe_line("no attack", times, statuses, Counter()), flush=True)
        for name, attack, settle in (("3 clients looping the 10 MiB boundary form", multipart_attack, 2.0),
                                     ("600 idle connections", idle_attack, 3.0),
                                     ("16 uploads at 1 byte/s", slow_attack, 3.0)):
            print(probe_line(name, *under(attack, port, body, args.probes, settle)), flush=True)
        for n in (8, 32):
            before = proc_mib(pid, "VmRSS:")
            result = summary(*load(port, body, n, args.seconds, 10**9))
            print(f"{n} clients, {args.seconds:g} s: {result}; server RSS {before:.0f} MiB before, "
                  f"{proc_mib(pid, 'VmRSS:'):.0f} MiB after", flush=True)
    finally:
        stop_server(proc)
    print(machine_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())

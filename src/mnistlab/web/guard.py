"""What protects ``mnistlab serve`` from slow, lying and cross-site clients, below and around the app.

- :class:`GuardedH11`: uvicorn's h11 protocol with a deadline for the request headers (408, then the
  connection is closed) and a bound on their size (431). uvicorn has neither: its only timeout is
  ``timeout_keep_alive`` (idle between requests), and h11's buffer limit answers a plain 400. Without the
  deadline, 64 connections that send their headers a byte at a time would hold every slot of
  ``limit_concurrency`` and everyone else would get 503. And at most ``MAX_WAITING_HEADS`` connections may
  wait for their headers at once: a new one closes the longest-waiting, if it has waited ``MIN_WAIT_S``
  (a browser sends its headers at once, so only idle and slow connections are closed); and a request whose
  headers are complete closes as many of the longest-waiting as it takes to stay under
  ``limit_concurrency``, so hundreds of idle connections never make a real request get 503.
- :func:`host_guard`: when the server listens on a loopback address, only ``Host`` values naming that
  address or ``localhost`` with the port are served (a DNS-rebinding page names its own host); on every
  address, a request with an ``Origin`` other than the page's own is refused (403).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json

from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = 10.0  # seconds a client has to send a request's headers, from its first byte
MAX_HEADER_BYTES = 16 * 1024  # request line plus headers; more is 431
MAX_WAITING_HEADS = 128  # connections waiting for their request headers; a new one closes the oldest...
MIN_WAIT_S = 0.5  # ... once it has waited this long (a normal request's headers arrive within milliseconds)
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def raw_response(status: int, reason: str, message: str) -> bytes:
    """A complete HTTP/1.1 response with a JSON error body that closes the connection."""
    body = json.dumps({"error": message}).encode()
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\ncache-control: no-store\r\n\r\n").encode() + body


class GuardedH11(H11Protocol):
    """h11 protocol with a header deadline and a header size bound (class attributes, tests lower them)."""

    header_timeout_s = HEADER_TIMEOUT_S
    max_header_bytes = MAX_HEADER_BYTES
    max_waiting_heads = MAX_WAITING_HEADS
    min_wait_s = MIN_WAIT_S

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head = bytearray()  # the request head so far (at most max_header_bytes + 4 bytes of it)
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm()  # a connection that never sends a byte is closed too

    def _waiting(self) -> dict[GuardedH11, float]:
        """This server's connections waiting for request headers, oldest first (kept on its shared state)."""
        state = self.server_state
        if not hasattr(state, "mnistlab_waiting"):
            state.mnistlab_waiting = {}
        return state.mnistlab_waiting

    def _arm(self) -> None:
        self._head = bytearray()
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._refuse, 408, "Request Timeout",
                                                f"request headers not received within {self.header_timeout_s:g} s")
        waiting = self._waiting()
        now = self.loop.time()
        waiting[self] = now
        while len(waiting) > self.max_waiting_heads:
            oldest, since = next(iter(waiting.items()))
            if now - since < self.min_wait_s:
                break  # a burst of new connections: none is idle yet (limit_concurrency still bounds them)
            oldest._refuse(408, "Request Timeout", "request headers too slow while the server is busy")

    def _disarm(self) -> None:
        self._waiting().pop(self, None)  # dicts keep insertion order: the first entry waited longest
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _refuse(self, status: int, reason: str, message: str) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(raw_response(status, reason, message))
            self.transport.close()
        self.connections.discard(self)  # closing: no longer counts against limit_concurrency

    def _make_room(self) -> None:
        """Close the longest-waiting idle connections so that this complete request is under the limit."""
        if self.limit_concurrency is None:
            return
        excess = len(self.connections) - self.limit_concurrency + 1
        for other in [c for c in self._waiting() if c is not self][:max(0, excess)]:
            other._refuse(408, "Request Timeout", "request headers too slow while the server is busy")

    def data_received(self, data: bytes) -> None:
        between = self.cycle is None or self.cycle.response_complete
        if between and self._head_timer is None:
            self._arm()  # the next request on a kept-alive connection gets the same deadline
        if self._head_timer is not None:  # still reading a request head: bound it before h11 parses it
            self._head += data[: self.max_header_bytes + 4]
            end = self._head.find(b"\r\n\r\n")
            if end > self.max_header_bytes or (end == -1 and len(self._head) > self.max_header_bytes):
                self._refuse(431, "Request Header Fields Too Large",
                             f"request headers over {self.max_header_bytes:,} bytes")
                return
            if end != -1:
                self._make_room()
        cycle = self.cycle
        super().data_received(data)
        if self.cycle is not cycle:  # h11 parsed a complete request line and headers
            self._disarm()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_guard(app, loopback: bool, host: str = "127.0.0.1"):
    """ASGI middleware: refuse foreign ``Host`` values (when ``loopback``: only ``host``, the address listened
    on, and the loopback names are served) and foreign ``Origin`` values."""
    names = {*LOOPBACK_NAMES, f"[{host.strip('[]')}]" if ":" in host else host.lower()}

    async def guarded(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "").strip().lower()
        port = (scope.get("server") or ("", None))[1]
        if loopback:
            allowed = {f"{name}:{port}" for name in names}
            if port == 80:
                allowed |= names
            if host not in allowed:
                shown = sorted(names - set(LOOPBACK_NAMES)) or ["127.0.0.1"]
                return await _deny(send, f"this server answers only to http://{shown[0]}:{port} or "
                                         f"http://localhost:{port} (Host {host[:100]!r} refused)")
        origin = headers.get("origin")
        if origin is not None and origin.strip().lower() != f"http://{host}":
            return await _deny(send, f"cross-origin request refused (Origin {origin[:100]!r})")
        return await app(scope, receive, send)

    return guarded


async def _deny(send, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})

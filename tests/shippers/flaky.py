"""A loopback proxy that loses the app's first replies: the retry case of the shipper tests.

Each request is forwarded to the app whole (so the app stores the batch and commits), but for
the first `lose` POSTs the client is told 503 with `Retry-After: 1` instead of the app's reply,
as when a load balancer times out after the backend committed. A client that retries then sends
the same batch again, and the app must store nothing twice.
"""

from __future__ import annotations

import contextlib
import http.client
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host"}


@dataclass
class Flaky:
    url: str
    lose: int
    posts: int = 0
    lost: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def next_is_lost(self) -> bool:
        with self.lock:
            self.posts += 1
            if self.lost < self.lose:
                self.lost += 1
                return True
            return False


@contextlib.contextmanager
def flaky_proxy(app_host: str, app_port: int, *, lose: int = 1) -> Iterator[Flaky]:
    """Serve the proxy on a free loopback port until the block ends."""
    state = Flaky(url="", lose=lose)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002 - the base class names it so
            pass

        def _relay(self) -> None:
            body = self._body()
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            upstream = http.client.HTTPConnection(app_host, app_port, timeout=60)
            upstream.request(self.command, self.path, body=body, headers=headers)
            reply = upstream.getresponse()
            content = reply.read()
            if self.command == "POST" and state.next_is_lost():
                self._answer(503, [("Retry-After", "1")], b'{"error": "lost reply"}')
            else:
                kept = [(k, v) for k, v in reply.getheaders() if k.lower() not in _HOP_BY_HOP]
                self._answer(reply.status, kept, content, drop_length=True)
            upstream.close()

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                parts = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(parts)
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _answer(self, status, headers, content: bytes, drop_length: bool = False) -> None:
            self.send_response(status)
            for key, value in headers:
                if not (drop_length and key.lower() == "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_POST = do_GET = do_PUT = do_HEAD = _relay

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()

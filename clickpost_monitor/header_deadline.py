"""gunicorn's asyncio worker ("asgi") with a deadline on each connection's first request head.

The worker bounds the wait for a later request on a kept-alive connection (`keepalive`) and
BufferedApp bounds a body (REQUEST_BODY_SECONDS), but nothing bounded the head of a new
connection's first request: a client that connects and sends its request line and headers a
byte every few seconds, or nothing at all, kept its socket (and a slot of `worker_connections`)
for as long as it liked. Here the head must be complete within REQUEST_HEADER_SECONDS of the
connection, or the connection is closed.

gunicorn offers no hook for the protocol class: its worker makes each connection's protocol
from the name `ASGIProtocol` in `gunicorn.workers.gasgi`, so the worker below points that name
at the subclass in its own process before it serves.
"""

from __future__ import annotations

from typing import Any

from gunicorn.asgi.protocol import ASGIProtocol
from gunicorn.workers import gasgi

from clickpost_monitor.env import env_int


class HeaderDeadlineProtocol(ASGIProtocol):
    head_seconds = 10

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._head_deadline = self.worker.loop.call_later(self.head_seconds, self._head_too_slow)

    def _on_headers_complete(self) -> Any:
        self._cancel_head_deadline()
        return super()._on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_deadline()
        super().connection_lost(exc)

    def _cancel_head_deadline(self) -> None:
        deadline = getattr(self, "_head_deadline", None)
        if deadline is not None:
            deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        self._close_transport()
        if self._request_ready is not None:
            self._request_ready.set()  # the connection's task sees it closed and ends


class HeaderDeadlineWorker(gasgi.ASGIWorker):
    protocol_class: type[HeaderDeadlineProtocol] = HeaderDeadlineProtocol

    def init_process(self) -> None:
        # Alive from the fork: the arbiter's first look must not find the heartbeat file's
        # creation time, which is on another clock than the heartbeats (time.monotonic) and,
        # under a shifted clock (libfaketime), a year old.
        self.notify()
        HeaderDeadlineProtocol.head_seconds = env_int("REQUEST_HEADER_SECONDS", 10, minimum=1)
        gasgi.ASGIProtocol = self.protocol_class
        super().init_process()

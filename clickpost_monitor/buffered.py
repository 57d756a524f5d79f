"""`BufferedApp`: the ASGI middleware that gives Django only whole requests (served by
clickpost_monitor/asgi.py under gunicorn's "asgi" worker; importable without starting Django).

Why ASGI for a synchronous Django app: a client that trickles its headers or its body must not
hold anything the next client needs. gunicorn's asyncio worker reads every
connection in its event loop, and `BufferedApp` below receives the whole body (capped, within a
deadline) before the request is given to Django. Only complete requests reach the app threads,
so a thousand slow clients cost a thousand idle sockets, not a thousand workers, and no database
connection is held while a body trickles in.

The Django side runs exactly as under WSGI: every request's synchronous code (middleware, view,
ORM) runs on one of `WEB_THREADS` long-lived threads of the worker, each with its own persistent
database connection (CONN_MAX_AGE and the health checks work as before). Django's own ASGI
handler would instead start a new thread per request, leaving persistent connections behind.

`Direct`: the requests it picks (a shipper's POST to an ingest door: clickpost_monitor/asgi.py)
are given to a WSGI app on the same threads (there `ingest.doors.handler.LeanDoorHandler`, with
Django's WSGI handler behind it), in one hop with the buffered body, and the whole answer sent
back: Django's ASGI handler hops to the thread and back three times a
request (the started signal, the response, the finished signal) and watches for a disconnect,
about 0.7 ms of a 10-event batch's CPU (docs/PERFORMANCE.md, issue 22). The same signals,
middleware and views run as under WSGI (the lean handler's docstring says how it keeps them);
only answers that are not streamed may take it (ingest's are small).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import IO, Any

from asgiref.sync import ThreadSensitiveContext

from clickpost_monitor.error_shape import error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class Direct:
    """Requests `wants(scope)` picks are served by `app`, a WSGI app, in one hop (above)."""

    app: WSGIApp
    wants: Callable[[Scope], bool]


SPOOL_IN_MEMORY_BYTES = 1024 * 1024  # larger bodies wait in a temporary file
REPLAY_CHUNK_BYTES = 256 * 1024


class BufferedApp:
    """Receives each request whole before handing it to `app` on one of `threads` threads.

    - A declared `Content-Length` over `max_body_bytes` is a 413 at once, the body unread.
    - A body (chunked too) that grows past `max_body_bytes` is a 413 when it does.
    - A body not complete within `body_seconds` is a 408.
    Django then sees an ordinary request with a `Content-Length` (a chunked body de-chunked).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        threads: int,
        max_body_bytes: int,
        body_seconds: float,
        direct: Direct | None = None,
    ):
        self.app = app
        self.direct = direct
        self.max_body_bytes = max_body_bytes
        self.body_seconds = body_seconds
        self.executors = [ThreadPoolExecutor(1, thread_name_prefix="app") for _ in range(threads)]
        self._free: asyncio.Queue[ThreadPoolExecutor] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # no websockets here: the connection is closed
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _refuse(send, 413, self._too_large(declared))
            return
        try:
            async with asyncio.timeout(self.body_seconds):
                body, size = await self._receive_body(receive, send)
        except TimeoutError:
            await _refuse(
                send, 408, f"the request body did not arrive within {self.body_seconds:g} s"
            )
            return
        if body is None:
            return  # the client left, or the body was too large and refused
        with body:
            scope = _with_length(scope, size)
            if self.direct is not None and self.direct.wants(scope):
                await self._serve_direct(self.direct.app, scope, body, send)
            else:
                await self._serve(scope, _replay(body, receive), send)

    async def _receive_body(self, receive: Receive, send: Send):
        # Handed to the caller, who closes it after the response (or closed here on refusal).
        # A body that comes in one message (a shipper's small batch) is read from memory as
        # it is; a longer one is spooled, to a temporary file past SPOOL_IN_MEMORY_BYTES.
        body: IO[bytes] | None = None
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                if body is not None:
                    body.close()
                return None, 0
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                if body is not None:
                    body.close()
                await _refuse(send, 413, self._too_large(None))
                return None, 0
            more = message.get("more_body", False)
            if body is None and not more:
                return io.BytesIO(chunk), size
            if body is None:
                body = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES, mode="w+b")  # noqa: SIM115
            body.write(chunk)
            if not more:
                body.seek(0)
                return body, size

    @asynccontextmanager
    async def _thread(self) -> AsyncIterator[ThreadPoolExecutor]:
        """One of the app threads, this request's alone until it is answered."""
        if self._free is None:
            self._free = asyncio.Queue()
            for executor in self.executors:
                self._free.put_nowait(executor)
        executor = await self._free.get()
        try:
            yield executor
        finally:
            self._free.put_nowait(executor)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The outermost ThreadSensitiveContext decides where Django's sync code runs.
        async with self._thread() as executor, ThreadSensitiveContext(executor=executor):
            await self.app(scope, receive, send)

    async def _serve_direct(self, app: WSGIApp, scope: Scope, body: IO[bytes], send: Send) -> None:
        async with self._thread() as executor:
            loop = asyncio.get_running_loop()
            status, headers, content = await loop.run_in_executor(
                executor, _call_wsgi, app, _environ(scope, body)
            )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    def _too_large(self, declared: int | None) -> str:
        if declared is not None:
            return f"body is {declared} bytes; the limit is {self.max_body_bytes} bytes"
        return f"body is over the limit of {self.max_body_bytes} bytes"


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # Django and the ingest doors answer their own 400
    return None


def _with_length(scope: Scope, size: int) -> Scope:
    """The scope with the body's real length in place of Transfer-Encoding/Content-Length."""
    headers = [
        (name, value)
        for name, value in scope.get("headers", [])
        if name.lower() not in (b"content-length", b"transfer-encoding")
    ]
    if size or scope.get("method") not in ("GET", "HEAD", "OPTIONS"):
        headers.append((b"content-length", str(size).encode()))
    return {**scope, "headers": headers}


def _environ(scope: Scope, body: IO[bytes]) -> dict[str, Any]:
    """The WSGI environ of an ASGI request whose whole body is `body` (PEP 3333's rules:
    text as latin-1, repeated headers joined by commas, cookies by semicolons)."""
    server = scope.get("server") or ("localhost", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode().decode("latin-1"),
        "PATH_INFO": scope["path"].encode().decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1] or 80),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if scope.get("client"):
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = scope["client"][0], str(scope["client"][1])
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        key = name if name in ("CONTENT_LENGTH", "CONTENT_TYPE") else f"HTTP_{name}"
        value = raw_value.decode("latin-1")
        if key in environ:
            value = environ[key] + ("; " if key == "HTTP_COOKIE" else ",") + value
        environ[key] = value
    return environ


def _call_wsgi(app: WSGIApp, environ: dict[str, Any]) -> tuple[int, list, bytes]:
    """Run the WSGI app on this thread: its status, headers and whole body. Closing the answer
    is what sends Django's request_finished (persistent connections are checked then)."""
    started: list = []

    def start_response(status: str, headers: list, exc_info: Any = None) -> None:
        started[:] = [status, headers]

    answer = app(environ, start_response)
    try:
        content = b"".join(answer)
    finally:
        close = getattr(answer, "close", None)
        if close is not None:
            close()
    status, headers = started
    encoded = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    return int(status.split(" ", 1)[0]), encoded, content


def _replay(body, receive: Receive) -> Receive:
    """A `receive` that hands out the buffered body, then waits for the client to leave."""
    sent_all = False

    async def replayed() -> Message:
        nonlocal sent_all
        if sent_all:
            return await receive()
        chunk = body.read(REPLAY_CHUNK_BYTES)
        more = body.tell() < _size_of(body)
        sent_all = not more
        return {"type": "http.request", "body": chunk, "more_body": more}

    return replayed


def _size_of(body) -> int:
    position = body.tell()
    end = body.seek(0, os.SEEK_END)
    body.seek(position)
    return end


async def _refuse(send: Send, status: int, error: str) -> None:
    """A JSON refusal like the API's own, and the connection closed (the body is unread)."""
    content = json.dumps(error_body(error)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"Content-Type", b"application/json"),
                (b"Content-Length", str(len(content)).encode()),
                (b"Connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return

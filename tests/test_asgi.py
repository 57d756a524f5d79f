"""BufferedApp (clickpost_monitor/asgi.py), in process: the app sees only whole requests, with
their real Content-Length; too large is a 413 (from the header, unread, or as it grows), too
slow a 408. Through gunicorn: tests/fault/test_edge_limits.py and test_slow_clients.py."""

from __future__ import annotations

import asyncio
import json
import threading

from clickpost_monitor.buffered import BufferedApp, Direct

LIMIT = 1_000_000


class Recorder:
    """An inner app that keeps what it was given and answers 200."""

    def __init__(self) -> None:
        self.scope: dict | None = None
        self.body = b""
        self.thread: str | None = None

    async def __call__(self, scope, receive, send) -> None:
        self.scope = scope
        while True:
            message = await receive()
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _serve(app, headers: list[tuple[bytes, bytes]], chunks: list[bytes], delay: float = 0):
    """Run one request through `app`; returns (status, body) and the messages it sent."""
    sent: list[dict] = []
    pending = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    asked = 0

    async def receive():
        nonlocal asked
        asked += 1
        if not pending:
            await asyncio.sleep(3600)  # the client stays; nothing more to send
        await asyncio.sleep(delay)
        return pending.pop(0)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/v1/events/", "headers": headers}
    run_in_its_own_loop(app(scope, receive, send))
    status = sent[0]["status"]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return status, body, asked


def _buffered(inner, **kwargs) -> BufferedApp:
    return BufferedApp(
        inner,
        threads=1,
        max_body_bytes=LIMIT,
        body_seconds=kwargs.get("body_seconds", 5),
        direct=kwargs.get("direct"),
    )


class WsgiRecorder:
    """A WSGI app that keeps its environ, the body and its thread, and answers 201."""

    def __init__(self) -> None:
        self.environ: dict = {}
        self.body = b""
        self.threads: list[str] = []

    def __call__(self, environ, start_response):
        self.environ = environ
        self.body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        self.threads.append(threading.current_thread().name)
        start_response("201 Created", [("Content-Type", "application/json"), ("X-Seen", "1")])
        return [b'{"a":', b"1}"]


def test_a_chunked_body_reaches_the_app_whole_with_its_length():
    inner = Recorder()
    pieces = [bytes([65 + n]) * 100_000 for n in range(7)]  # 700 kB: spooled to disk, replayed

    status, _, _ = _serve(_buffered(inner), [(b"transfer-encoding", b"chunked")], pieces)

    assert status == 200
    assert inner.body == b"".join(pieces)
    assert (b"content-length", b"700000") in inner.scope["headers"]
    assert all(name != b"transfer-encoding" for name, _ in inner.scope["headers"])


def test_a_declared_length_over_the_limit_is_413_and_the_body_is_never_asked_for():
    inner = Recorder()
    headers = [(b"content-length", str(LIMIT + 1).encode())]

    status, body, asked = _serve(_buffered(inner), headers, [b"x"])

    assert (status, asked, inner.scope) == (413, 0, None)
    assert json.loads(body)["error"] == f"body is {LIMIT + 1} bytes; the limit is {LIMIT} bytes"


def test_a_body_growing_over_the_limit_is_413_and_the_app_never_runs():
    inner = Recorder()

    status, body, _ = _serve(_buffered(inner), [], [b"x" * 600_000, b"x" * 600_000])

    assert (status, inner.scope) == (413, None)
    assert json.loads(body)["error"] == f"body is over the limit of {LIMIT} bytes"


def test_a_body_that_does_not_arrive_in_time_is_408():
    inner = Recorder()

    status, body, _ = _serve(_buffered(inner, body_seconds=0.2), [], [b"a", b"b", b"c"], delay=0.15)

    assert (status, inner.scope) == (408, None)
    assert "did not arrive within 0.2 s" in json.loads(body)["error"]


def test_the_app_runs_on_the_named_thread_not_the_event_loop():
    from asgiref.sync import sync_to_async

    seen: list[str] = []

    async def inner(scope, receive, send):
        await sync_to_async(lambda: seen.append(threading.current_thread().name))()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = _buffered(inner)
    for _ in range(3):
        _serve(app, [], [b""])

    assert len(set(seen)) == 1 and seen[0].startswith("app")  # one long-lived app thread


def test_a_request_direct_picks_is_served_by_the_wsgi_app_whole_on_an_app_thread():
    inner, wsgi = Recorder(), WsgiRecorder()
    app = _buffered(inner, direct=Direct(wsgi, lambda scope: scope["method"] == "POST"))
    headers = [(b"transfer-encoding", b"chunked"), (b"authorization", b"Bearer x")]
    headers += [(b"cookie", b"a=1"), (b"cookie", b"b=2"), (b"content-type", b"application/json")]

    for _ in range(2):
        status, body, _ = _serve(app, headers, [b"[1,", b"2]"])

    assert (status, body, inner.scope) == (201, b'{"a":1}', None)
    assert wsgi.body == b"[1,2]"
    assert {k: wsgi.environ[k] for k in ("CONTENT_LENGTH", "CONTENT_TYPE", "PATH_INFO")} == {
        "CONTENT_LENGTH": "5",
        "CONTENT_TYPE": "application/json",
        "PATH_INFO": "/api/v1/events/",
    }
    assert (wsgi.environ["HTTP_AUTHORIZATION"], wsgi.environ["HTTP_COOKIE"]) == (
        "Bearer x",
        "a=1; b=2",
    )
    assert len(set(wsgi.threads)) == 1 and wsgi.threads[0].startswith("app")


def test_a_request_direct_does_not_pick_goes_to_the_asgi_app():
    inner, wsgi = Recorder(), WsgiRecorder()
    app = _buffered(inner, direct=Direct(wsgi, lambda scope: False))

    status, _, _ = _serve(app, [], [b"[]"])

    assert (status, inner.body, wsgi.body) == (200, b"[]", b"")


def run_in_its_own_loop(coroutine) -> None:
    """asyncio.run on a thread of its own: a browser test's Playwright may still hold an event
    loop on the main thread, where asyncio.run refuses to start another."""
    failure: list[BaseException] = []

    def main() -> None:
        try:
            asyncio.run(coroutine)
        except BaseException as error:  # handed back to the test below
            failure.append(error)

    runner = threading.Thread(target=main)
    runner.start()
    runner.join()
    if failure:
        raise failure[0]

"""gunicorn's asyncio worker, answering the requests its own HTTP parser refuses in JSON.

A request gunicorn cannot parse (a malformed chunked body: a bad chunk size or a missing chunk
terminator; a request line or headers too long) never reaches the app, and gunicorn answers it
with a short text/plain body. Shippers read the API's errors as JSON (`{"error": ...}`, as
clickpost_monitor/errors.py answers everything else), so this worker writes the same status,
reason and message as that JSON shape. gunicorn.conf.py names `Worker` as its worker class.
"""

from __future__ import annotations

import json
from http import HTTPStatus

from gunicorn.asgi import protocol as gunicorn_protocol
from gunicorn.workers import gasgi


class JsonErrorProtocol(gunicorn_protocol.ASGIProtocol):
    def _send_error_response(self, status, message, extra_headers=()):
        body = json.dumps({"error": message}).encode()
        reason = _reason(status)
        extra = "".join(f"{name}: {value}\r\n" for name, value in extra_headers)
        head = (
            f"HTTP/1.1 {status} {reason}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"{extra}"
            "Connection: close\r\n\r\n"
        )
        self._safe_write(head.encode("latin-1"))
        self._safe_write(body)


def _reason(status: int) -> str:
    known = getattr(gunicorn_protocol, "_REASON_PHRASES", {}).get(status)
    if known:
        return known
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class Worker(gasgi.ASGIWorker):
    """`ASGIWorker` serving every connection with `JsonErrorProtocol`.

    gunicorn builds each connection's protocol from the name `ASGIProtocol` in its worker
    module; it offers no setting for it, so the name is pointed at the subclass when a worker of
    this class starts (in the worker process only, never in the arbiter)."""

    def init_process(self) -> None:
        gasgi.ASGIProtocol = JsonErrorProtocol
        super().init_process()

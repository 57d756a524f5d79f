"""The server's worker: gunicorn's asyncio worker with the head deadline (header_deadline.py),
answering the requests its own HTTP parser refuses in the API's JSON error shape.

A request gunicorn cannot parse (a malformed chunked body: a bad chunk size or a missing chunk
terminator; a request line or headers too long) never reaches the app, and gunicorn answers it
with a short text/plain body. Shippers read the API's errors as JSON, so this protocol writes
the same status, reason and message as `error_shape.error_body`. gunicorn_conf.py names
`Worker` as its worker class.
"""

from __future__ import annotations

import json
from http import HTTPStatus

from gunicorn.asgi import protocol as gunicorn_protocol

from clickpost_monitor.error_shape import error_body
from clickpost_monitor.header_deadline import HeaderDeadlineProtocol, HeaderDeadlineWorker


class JsonErrorProtocol(HeaderDeadlineProtocol):
    def _send_error_response(self, status, message, extra_headers=()):
        body = json.dumps(error_body(message)).encode()
        extra = "".join(f"{name}: {value}\r\n" for name, value in extra_headers)
        head = (
            f"HTTP/1.1 {status} {_reason(status)}\r\n"
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


class Worker(HeaderDeadlineWorker):
    protocol_class = JsonErrorProtocol

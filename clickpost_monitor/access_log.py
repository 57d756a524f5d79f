"""gunicorn's logger with credentials taken out of every line it writes.

The Logz.io door takes its token from the query string (`/logzio/?token=...`, SPEC), Seq's
clients may send `?apiKey=`, and gunicorn's default access line carries the raw request line
(`%(r)s`), the query (`%(q)s`) and the Basic-auth user name (`%(u)s`, where some shippers put
the token); its error log names the request URI when a request fails. Each of those values is
redacted here before formatting, so no token reaches a log line (`gunicorn_conf.py` installs it).

An access line redacts only the atoms its format names (`RedactedAtoms`, as each is read): a
request has some forty atoms (every header and environ entry among them) and the default format
reads nine; redacting them all was a sixth of a small ingest request's event-loop CPU (issue 22).
Nor are the per-header and per-environ atoms (`{name}i`, `{name}o`, `{name}e`) made at all
when the format reads none of them, as the default does (`RedactingLogger.atoms`).
"""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger, SafeAtoms

REDACTED = "[REDACTED]"
# ?token=, &apiKey=, api_key=, key= (any case) and anything shaped like one of our secrets.
_QUERY_SECRET = re.compile(r"(?i)(?<![\w-])((?:token|api_?key|key|access_token)=)[^&\s\"']*")
_OUR_SECRET = re.compile(r"cpm_[A-Za-z0-9_\-]+")


def redact(text: str) -> str:
    """`text` with query-string credentials and our token secrets replaced by [REDACTED]."""
    return _OUR_SECRET.sub(REDACTED, _QUERY_SECRET.sub(r"\1" + REDACTED, text))


def _redacted(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactedAtoms(SafeAtoms):
    """gunicorn's `SafeAtoms` (case-insensitive `{header}i`, '-' for what is missing, quotes
    escaped), each value redacted when the format reads it: redacted, then escaped, as when
    every atom was redacted up front."""

    def __init__(self, atoms: dict) -> None:
        dict.__init__(self, atoms)  # kept as they are; SafeAtoms' escaping is done on reading

    def __getitem__(self, key: str) -> Any:
        value = _redacted(super().__getitem__(key))
        return value.replace('"', '\\"') if isinstance(value, str) else value


class _Unlisted(dict):
    """A request's environ that answers every lookup but lists no entries."""

    def items(self):
        return ()


class _Headerless:
    """A request or response as gunicorn's `atoms` reads it, less its headers."""

    headers = ()

    def __init__(self, of: Any) -> None:
        self.status = getattr(of, "status", None)
        self.sent = getattr(of, "sent", None)


class RedactingLogger(Logger):
    """Access atoms and error-log arguments pass through `redact`."""

    atoms_wrapper_class = RedactedAtoms

    def atoms(self, resp, req, environ, request_time) -> dict:
        """gunicorn's atoms; those of each header and environ entry only for a format that
        reads any (`%({name}i)s`...): the default reads none, and they were a third of making
        a line (docs/PERFORMANCE.md, round 7)."""
        if "{" in self.cfg.access_log_format:
            return super().atoms(resp, req, environ, request_time)
        return super().atoms(_Headerless(resp), _Headerless(req), _Unlisted(environ), request_time)

    def log(self, lvl, msg, *args, **kwargs) -> None:
        super().log(lvl, _redacted(msg), *map(_redacted, args), **kwargs)

    def critical(self, msg, *args, **kwargs) -> None:
        super().critical(_redacted(msg), *map(_redacted, args), **kwargs)

    def error(self, msg, *args, **kwargs) -> None:
        super().error(_redacted(msg), *map(_redacted, args), **kwargs)

    def warning(self, msg, *args, **kwargs) -> None:
        super().warning(_redacted(msg), *map(_redacted, args), **kwargs)

    def info(self, msg, *args, **kwargs) -> None:
        super().info(_redacted(msg), *map(_redacted, args), **kwargs)

    def debug(self, msg, *args, **kwargs) -> None:
        super().debug(_redacted(msg), *map(_redacted, args), **kwargs)

    def exception(self, msg, *args, **kwargs) -> None:
        super().exception(_redacted(msg), *map(_redacted, args), **kwargs)

"""gunicorn's logger with credentials taken out of every line it writes.

The Logz.io door takes its token from the query string (`/logzio/?token=...`, SPEC), Seq's
clients may send `?apiKey=`, and gunicorn's default access line carries the raw request line
(`%(r)s`), the query (`%(q)s`) and the Basic-auth user name (`%(u)s`, where some shippers put
the token); its error log names the request URI when a request fails. Each of those values is
redacted here before formatting, so no token reaches a log line (`gunicorn_conf.py` installs it).

An access line redacts only the atoms its format names (`RedactedAtoms`, as each is read): a
request has some forty atoms (every header and environ entry among them) and the default format
reads nine; redacting them all was a sixth of a small ingest request's event-loop CPU (issue 22).
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


class RedactingLogger(Logger):
    """Access atoms and error-log arguments pass through `redact`."""

    atoms_wrapper_class = RedactedAtoms

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

"""gunicorn's log lines never carry a token (clickpost_monitor/access_log.py)."""

from clickpost_monitor.access_log import RedactedAtoms, redact


def test_log_lines_lose_query_string_tokens_and_our_secrets():
    line = 'POST /logzio/?token=cpm_abc-DEF_1&type=python HTTP/1.1 "u=cpm_xyz" ?apiKey=s3'
    assert redact(line) == (
        'POST /logzio/?token=[REDACTED]&type=python HTTP/1.1 "u=[REDACTED]" ?apiKey=[REDACTED]'
    )


def test_text_without_credentials_is_kept():
    line = 'GET /api/v1/stats/timeseries/?interval=hour&keyboard=1 HTTP/1.1" 200'
    assert redact(line) == line


def test_an_access_line_reads_each_atom_redacted_then_escaped():
    """Atoms are redacted as the format reads them: the same line as redacting every atom
    first and escaping after (gunicorn's SafeAtoms), for every atom and for missing ones."""
    from gunicorn.config import AccessLogFormat
    from gunicorn.glogging import SafeAtoms

    atoms = {
        "h": "127.0.0.1",
        "u": "cpm_user-secret",
        "r": "POST /logzio/?token=cpm_abc&type=x HTTP/1.1",
        "q": "token=cpm_abc&type=x",
        "s": 200,
        "a": 'curl "quoted" apiKey=s3',
        "{authorization}i": "Bearer cpm_header_secret",
        "{x-seq-apikey}i": "plain-key",
    }
    lazily = RedactedAtoms(atoms)
    eagerly = SafeAtoms({k: redact(v) if isinstance(v, str) else v for k, v in atoms.items()})
    for key in [*atoms, "{Authorization}i", "{missing}i", "f"]:
        assert lazily[key] == eagerly[key]
    line = AccessLogFormat.default + ' "%({authorization}i)s"'
    assert line % lazily == line % eagerly
    assert "cpm_" not in line % lazily and "s3" not in line % lazily


def test_a_format_without_header_atoms_writes_the_same_line():
    """The default format reads no `{name}i/o/e` atom, so none is made: the line is gunicorn's,
    for a Basic-auth request (the user atom) and for another."""
    from types import SimpleNamespace

    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    from clickpost_monitor.access_log import RedactingLogger

    config = Config()
    ours, theirs = RedactingLogger(config), Logger(config)
    response = SimpleNamespace(status="200 OK", sent=51, headers=[("Content-Type", "json")])
    request = SimpleNamespace(headers=[("HOST", "x"), ("AUTHORIZATION", "Basic dTpw")])
    took = SimpleNamespace(seconds=0, microseconds=1500)
    for auth in ("Basic dTpw", "Bearer cpm_x"):
        environ = {
            "REQUEST_METHOD": "POST",
            "RAW_URI": "/logzio/?token=cpm_abc",
            "PATH_INFO": "/logzio/",
            "QUERY_STRING": "token=cpm_abc",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "10.0.0.1",
            "HTTP_AUTHORIZATION": auth,
            "HTTP_USER_AGENT": "vector",
        }
        mine = ours.atoms(response, request, environ, took)
        full = theirs.atoms(response, request, environ, took)
        mine["t"] = full["t"]  # the clock's second may turn between the two
        fmt = config.access_log_format
        assert fmt % RedactedAtoms(mine) == fmt % RedactedAtoms(full)
        assert "{host}i" in full and "{host}i" not in mine

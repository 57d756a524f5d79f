"""gunicorn's log lines never carry a token (clickpost_monitor/access_log.py)."""

from clickpost_monitor.access_log import redact


def test_log_lines_lose_query_string_tokens_and_our_secrets():
    line = 'POST /logzio/?token=cpm_abc-DEF_1&type=python HTTP/1.1 "u=cpm_xyz" ?apiKey=s3'
    assert redact(line) == (
        'POST /logzio/?token=[REDACTED]&type=python HTTP/1.1 "u=[REDACTED]" ?apiKey=[REDACTED]'
    )


def test_text_without_credentials_is_kept():
    line = 'GET /api/v1/stats/timeseries/?interval=hour&keyboard=1 HTTP/1.1" 200'
    assert redact(line) == line

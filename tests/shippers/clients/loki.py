"""python-logging-loki's LokiHandler, unmodified, shipping the Clickpost calls of INPUT.

Each call is one log record whose message is the call's JSON; the handler POSTs it alone to
SHIP_URL (.../loki/api/v1/push) and takes any status but 204 as an error, which logging prints
to stderr ("--- Logging error ---"): the test fails on it.
env: SHIP_URL, SHIP_AUTH, INPUT. Configured as ../../../../shared/shippers/python-logging-loki/.
"""

import json
import logging
import os

import logging_loki
import requests


class AuthSession(requests.Session):
    def __init__(self):
        super().__init__()
        self.headers["Authorization"] = os.environ["SHIP_AUTH"]


handler = logging_loki.LokiHandler(
    url=os.environ["SHIP_URL"], tags={"app": "loki-shipper"}, version="1"
)
handler.emitter.session_class = AuthSession
log = logging.getLogger("clickpost")
log.setLevel(logging.INFO)
log.addHandler(handler)
log.propagate = False

with open(os.environ["INPUT"], encoding="utf-8") as calls:
    for line in calls:
        if line.strip():
            call = json.loads(line)
            level = logging.ERROR if int(call.get("http_status") or 0) >= 400 else logging.INFO
            log.log(level, line.strip(), extra={"tags": {"shipper": "python-logging-loki"}})

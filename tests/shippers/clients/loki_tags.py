"""python-logging-loki's LokiHandler, unmodified, with each call's fields as `tags`.

The library's own mechanism for structured fields is `extra={"tags": {...}}`, sent as the
stream's labels (Loki label values are text, so the call's `response` goes as JSON text); the
line is the plain message. Anything but 204 makes logging print "--- Logging error ---".
env: SHIP_URL, SHIP_AUTH, INPUT.
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
    url=os.environ["SHIP_URL"], tags={"app": "loki-tags"}, version="1"
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
            tags = {k: v if isinstance(v, str) else json.dumps(v) for k, v in call.items()}
            log.info("Clickpost call", extra={"tags": tags})

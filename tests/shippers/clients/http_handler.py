"""The standard library's logging.handlers.HTTPHandler, logging the calls of INPUT.

`HTTPHandler(host, url, method="POST", credentials=(user, token))` as Python's docs show: one
form-encoded `record.__dict__` a request, Basic auth; each call's fields go as `extra=`. The
handler never looks at the status, so the test counts the stored rows.
env: SHIP_HOST (host:port), SHIP_TOKEN, INPUT.
"""

import json
import logging
import logging.handlers
import os

handler = logging.handlers.HTTPHandler(
    os.environ["SHIP_HOST"],
    "/api/v1/events/",
    method="POST",
    credentials=("shipper", os.environ["SHIP_TOKEN"]),
)
log = logging.getLogger("clickpost")
log.setLevel(logging.INFO)
log.addHandler(handler)
log.propagate = False

with open(os.environ["INPUT"], encoding="utf-8") as calls:
    for line in calls:
        if line.strip():
            call = json.loads(line)
            log.info(call.pop("message", "Clickpost call to %s"), call["waybill"], extra=call)

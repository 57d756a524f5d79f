"""logzio-python-handler's LogzioHandler, unmodified, logging the Clickpost calls of INPUT.

`LogzioHandler(token, url=...)` as Logz.io's docs say, `url` our door (the handler appends
`/?token=<token>`); each call's fields go as `extra=` (top-level keys of the NDJSON line). It
takes only 200 as success, retries anything but 400 and 401, and logs through its own
"LogzioLogger" at INFO on a refusal.
env: SHIP_URL, SHIP_TOKEN, INPUT.
"""

import json
import logging
import os

from logzio.handler import LogzioHandler

logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
handler = LogzioHandler(
    os.environ["SHIP_TOKEN"],
    url=os.environ["SHIP_URL"],
    logs_drain_timeout=1,
    backup_logs=False,
    retry_timeout=1,
)
log = logging.getLogger("clickpost")
log.setLevel(logging.INFO)
log.addHandler(handler)
log.propagate = False

with open(os.environ["INPUT"], encoding="utf-8") as calls:
    for line in calls:
        if line.strip():
            call = json.loads(line)
            log.info(call.pop("message", "Clickpost call"), extra=call)
handler.flush()

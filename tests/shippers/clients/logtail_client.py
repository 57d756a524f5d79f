"""logtail-python's LogtailHandler (Better Stack), unmodified, logging the calls of INPUT.

`LogtailHandler(source_token=..., host=...)` as Better Stack's docs say, `host` our door's URL;
each call's fields go as `extra=` (the handler puts them at the top of the msgpack map). It
retries a 5xx after 1 s, 10 s and 60 s and prints "Failed to send logs" when it gives up.
env: SHIP_URL, SHIP_TOKEN, INPUT.
"""

import json
import logging
import os

from logtail import LogtailHandler

handler = LogtailHandler(
    source_token=os.environ["SHIP_TOKEN"], host=os.environ["SHIP_URL"], flush_interval=0.5
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

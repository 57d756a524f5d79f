"""seqlog, unmodified, logging the Clickpost calls of INPUT to Seq's raw or CLEF endpoint.

`seqlog.log_to_seq(server_url, api_key, ...)` as its docs say; each call's fields are the
record's properties: passed as keyword arguments (raw mode, seqlog's structured logger) or as
`extra=` with `support_extra_properties` (CLEF mode: seqlog prefixes them `Extra_`). seqlog
prints "--- Logging error ---" through logging on any failed POST.
env: SHIP_URL (the server's base URL), SHIP_TOKEN, INPUT, SEQ_MODE=raw|clef.
"""

import json
import logging
import os
import time

import seqlog

clef = os.environ.get("SEQ_MODE") == "clef"
handler = seqlog.log_to_seq(
    server_url=os.environ["SHIP_URL"],
    api_key=os.environ["SHIP_TOKEN"],
    level=logging.INFO,
    batch_size=10,
    auto_flush_timeout=1,
    override_root_logger=False,
    support_extra_properties=clef,
    use_clef=clef,
)
log = logging.getLogger("clickpost")

with open(os.environ["INPUT"], encoding="utf-8") as calls:
    for line in calls:
        if line.strip():
            call = json.loads(line)
            template = call.pop("message", "Clickpost call to {endpoint}")
            if clef:
                log.info(template, extra=call)
            else:
                log.info(template, **call)
time.sleep(2)  # the consumer thread moves records to its batch; auto_flush_timeout sends it
handler.flush()
handler.close()

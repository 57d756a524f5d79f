"""splunk-handler's SplunkHandler, unmodified, logging the Clickpost calls of INPUT.

Configured as its README says (host, port, token, index), with `protocol="http"` for our
loopback server; each call is logged as its JSON text, which the handler sends as the HEC
`event` (a JSON string) with the record's epoch `time`; a flush joins the objects with nothing
between them. The handler prints "Exception in Splunk logging handler" on any 4xx/5xx.
env: SHIP_HOST, SHIP_PORT, SHIP_TOKEN, INPUT.
"""

import json
import logging
import os

from splunk_handler import SplunkHandler

handler = SplunkHandler(
    host=os.environ["SHIP_HOST"],
    port=os.environ["SHIP_PORT"],
    token=os.environ["SHIP_TOKEN"],
    index="main",
    protocol="http",
    verify=False,
    flush_interval=0.5,
    sourcetype="_json",
)
log = logging.getLogger("clickpost")
log.setLevel(logging.INFO)
log.addHandler(handler)
log.propagate = False

with open(os.environ["INPUT"], encoding="utf-8") as calls:
    for line in calls:
        if line.strip():
            log.info(json.dumps(json.loads(line)))
handler.force_flush()
handler.close()

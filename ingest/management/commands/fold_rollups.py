"""`fold_rollups`: fold the rollups' stripes of settled buckets into stripe 0 (ingest.rollups),
every `--every` seconds until SIGTERM/SIGINT, or `--once`."""

from __future__ import annotations

import logging
import signal
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils import timezone

from ingest import rollups

log = logging.getLogger("ingest.rollups")


class Command(BaseCommand):
    help = (
        "Fold the rollups' stripes of buckets no batch of the present writes to into one row "
        "per key (answers are unchanged: reads add the stripes up). Any number may run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="fold once and exit")
        parser.add_argument("--every", type=float, default=600.0, help="seconds between folds")

    def handle(self, *args, once, every, **options):
        if once:
            self.stdout.write(f"folded {sum(rollups.compact(now=timezone.now()).values())} rows")
            return
        stopping: list[bool] = []
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.append(True))
        self.stdout.write("rollup folding started")
        while not stopping:
            try:
                folded = rollups.compact(now=timezone.now())
                log.info("rollups: folded %s stripe rows", sum(folded.values()))
            except Exception:  # noqa: BLE001 - a database outage must not end the loop
                log.exception("rollups: this fold failed; trying again")
                close_old_connections()
            end = time.monotonic() + max(every, 1.0)
            while not stopping and time.monotonic() < end:
                time.sleep(0.2)
        self.stdout.write("rollup folding stopped")

"""Concurrent batches of one token: the token's counts in the batch's transaction vs after it.

    DATABASE_URL=postgres://.../cpm_NAME SECRET_KEY=x python -m bench.ingest_token_contention

The token's counts are written in the batch's own transaction (last in it, so the row is locked
only from that update to the commit). This measures what that costs when one
shipper sends many batches at once: `--threads` threads each send `--batches` batches of
`--size` events through `store.write_events`, with one token, either way, alternating rounds;
it prints the median batches per second of each and their ratio, and checks that the token's
accepted count equals the rows stored. Events are cleaned beforehand (untimed): only the write
and the counts are measured. It writes into the database it is pointed at (then empties it).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid

import django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=10)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--size", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    django.setup()
    from django.db import connection
    from django.utils import timezone

    from ingest import store
    from ingest.catalog import current_catalog
    from ingest.events import clean_event
    from tokens.auth import create_token
    from tokens.models import ApiToken

    token, _ = create_token(name=f"bench-{uuid.uuid4().hex[:8]}", scopes=["ingest"])
    now, catalog = timezone.now(), current_catalog()

    def batch() -> list:
        return [
            clean_event(
                {
                    "timestamp": now.isoformat(),
                    "endpoint": "order_create",
                    "http_status": 200,
                    "event_id": uuid.uuid4().hex,
                },
                now=now,
                catalog=catalog,
            )
            for _ in range(args.size)
        ]

    def send(events: list, *, same_transaction: bool) -> None:
        if same_transaction:
            store.write_events(events, token_id=token.pk, token_use=store.TokenUse(token.pk))
        else:  # the alternative: commit, then the counts in a statement of their own
            result = store.write_events(events, token_id=token.pk)
            store.record_token_use(
                token.pk, accepted=result.accepted, duplicates=result.duplicates, rejected=0
            )

    def round_of(same_transaction: bool) -> float:
        work = [[batch() for _ in range(args.batches)] for _ in range(args.threads)]
        start = threading.Barrier(args.threads + 1)

        def run(batches: list) -> None:
            start.wait()
            for events in batches:
                send(events, same_transaction=same_transaction)
            connection.close()

        threads = [threading.Thread(target=run, args=(w,)) for w in work]
        for thread in threads:
            thread.start()
        start.wait()
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        return args.threads * args.batches / (time.perf_counter() - began)

    rates: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.rounds):
        for mode in (True, False):
            rates[mode].append(round_of(mode))
    token = ApiToken.objects.get(pk=token.pk)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ingest_event WHERE token_id = %s", [token.pk])
        rows = cursor.fetchone()[0]
        cursor.execute("DELETE FROM ingest_event WHERE token_id = %s", [token.pk])
    token.delete()
    same, apart = statistics.median(rates[True]), statistics.median(rates[False])
    print(
        f"{args.threads} threads x {args.batches} batches of {args.size} events, one token, "
        f"{args.rounds} rounds (batches/s): ",
        end="",
    )
    print(
        f"in the batch's transaction {same:,.0f} (rounds {[round(r) for r in rates[True]]}), "
        f"after the commit {apart:,.0f} (rounds {[round(r) for r in rates[False]]}); "
        f"ratio {same / apart:.2f}; token accepted {token.accepted:,} = rows {rows:,}: "
        f"{'ok' if token.accepted == rows else 'MISMATCH'}"
    )


if __name__ == "__main__":
    main()

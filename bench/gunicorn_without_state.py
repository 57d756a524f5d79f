"""The deploy config, whose workers write batches without the open-failure state: the other arm
of `bench.open_failures --http` (ingest with and without the state, end to end)."""

from clickpost_monitor.gunicorn_conf import *  # noqa: F403


def post_worker_init(worker) -> None:
    from bench.open_failures import leave_out_state

    leave_out_state()

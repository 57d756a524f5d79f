"""The deploy config, whose workers write batches without the open-failure state: the other arm
of `bench.open_failures --http` (ingest with and without the state, end to end)."""

from clickpost_monitor import gunicorn_conf as deploy
from clickpost_monitor.gunicorn_conf import *  # noqa: F403


def post_worker_init(worker) -> None:
    from bench.open_failures import leave_out_state

    deploy.post_worker_init(worker)
    leave_out_state()

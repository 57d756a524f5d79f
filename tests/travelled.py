"""`python -m tests.travelled MODULE ARGS...`: run a module as `python -m MODULE ARGS...` with
this process's clock at the RFC 3339 time in TEST_CLOCK_TRAVEL_TO (time_machine, ticking).

For a server a test starts in a subprocess (tests/shippers/live.py) when the test replays bytes
with fixed times in them (tests/clock.py says when). A forked child (gunicorn's workers) keeps
the travelled clock; PostgreSQL's does not move.
"""

from __future__ import annotations

import os
import runpy
import sys
from datetime import datetime

import time_machine

from tests.clock import TRAVEL_ENV

if __name__ == "__main__":
    destination = datetime.fromisoformat(os.environ[TRAVEL_ENV])
    time_machine.travel(destination, tick=True).start()
    module, *args = sys.argv[1:]
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)

"""The benchmark suite: `make bench` (BENCH_SCALE=small for a smoke run); see docs/PERFORMANCE.md.

Every step runs in its own process against its own `bench_*` database on the same PostgreSQL
server as the app (never the app's own database nor the test databases), and writes its
figures as JSON under `bench/out/`; `bench.report` turns them into docs/PERFORMANCE.md.
"""

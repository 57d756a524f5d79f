"""The read room: every figure a page, the API, an alert or the CSV shows is computed here.

    window.py    Window, Filters, the read parameters (Param) and the one zone parser
    params.py    each read endpoint's own parameters, parsed into typed values
    errors.py    ReadError: a parameter at fault and why (the API edge and the pages map it)
    sql.py       the one SQL builder over the rollups and the raw partitions
    buckets.py   the bucket calendar (DST-correct edges in any zone)
    rates.py     the one error-rate formula
    questions.py timeseries, breakdown, totals, heatmap, code counts
    selectors.py event rows, one event, shipment timelines
    reports.py   the weekly report (rows, CSV, JSON), streamed
    results.py   the typed results (TypedDicts holding datetimes)
    api/         the read API: thin DRF views, output serializers, the OpenAPI schema

No DRF outside api/ (an import-linter contract in pyproject.toml).
"""

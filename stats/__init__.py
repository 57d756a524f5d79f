"""The read room: every figure a page, the API, an alert or the CSV shows is computed here.

Its modules and what each answers are listed once, in docs/ARCHITECTURE.md. No DRF outside
`api/` (an import-linter contract in pyproject.toml).
"""

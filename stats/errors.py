"""The read room's one error: a parameter at fault and why.

Raised by the parsing of read parameters (stats.querystring, stats.params) and by the questions and
selectors when a value cannot be asked about. It names no HTTP status: the API edge
(stats.api.views.ReadView) answers it with a 400 JSON error and the pages (dashboard.views.page)
with the 400 page. A subclass of ValueError, so callers that caught the ValueError of
`parse_zone` or `parse_iso_week` keep working.
"""

from __future__ import annotations


class ReadError(ValueError):
    """A read parameter that cannot be used: `field` names it, `reason` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

"""The dashboard pages: thin views over ingest.stats / ingest.selectors, Plotly figures."""

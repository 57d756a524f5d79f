"""The dashboard pages: thin views over stats.questions / stats.selectors, Plotly figures."""

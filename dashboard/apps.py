from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The pages: thin views over the read room, Plotly figures and drill-down links."""

    name = "dashboard"

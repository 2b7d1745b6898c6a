"""The run summary as a terminal table."""

from __future__ import annotations

from rich.table import Table

GROUPS = (
    ("Jobs", ("jobs_submitted", "jobs_completed", "jobs_failed", "jobs_lost", "duplicates")),
    ("Response time", ("response_p50_s", "response_p95_s", "response_p99_s", "response_max_s",
                       "slowdown_mean", "slo_s", "slo_met_share")),
    ("Cost", ("work_seconds", "vm_seconds", "billed_seconds", "billed_hours",
              "cost_per_second_model", "cost_per_hour_model", "machines_peak", "machines_mean")),
    ("Elasticity", ("scaling_actions", "a_u", "a_o", "t_u", "t_o", "instability", "jitter",
                    "demand_window_s")),
)


def summary_table(summary: dict) -> Table:
    title = (f"{summary.get('trace')} · policy {summary.get('policy')} · "
             f"backend {summary.get('backend')} · {summary.get('duration_s')} s")
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("group")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for group, keys in GROUPS:
        first = True
        for key in keys:
            if key in summary:
                table.add_row(group if first else "", key, _show(summary[key]))
                first = False
    return table


def _show(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)

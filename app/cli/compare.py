"""``imgproc compare``: a table of every policy on every trace."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from imgproc.adapters.trace_files import read_trace
from imgproc.core.errors import ImgprocError
from imgproc.core.policies import get_spec, policy_names
from imgproc.options import run_flags, run_options, settings_from_flags

COLUMNS = (
    ("policy", "policy"), ("p50 s", "response_p50_s"), ("p95 s", "response_p95_s"),
    ("p99 s", "response_p99_s"), ("in SLO", "slo_met_share"), ("VM-s", "vm_seconds"),
    ("x bound", "cost_ratio"), ("billed h", "billed_hours"), ("mean m", "machines_mean"),
    ("peak m", "machines_peak"), ("actions", "scaling_actions"), ("a_U", "a_u"), ("a_O", "a_o"),
    ("jitter", "jitter"), ("lost", "jobs_lost"),
)


@click.command()
@click.argument("traces", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--policies", default="all", show_default=True,
              help="Comma-separated policy names, or 'all'.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as one JSON array.")
@click.option("--markdown", is_flag=True, help="Print the table as Markdown (for docs).")
@run_options
def compare(traces, policies, as_json, markdown, config, **run) -> None:
    """Run every policy on every trace in the simulator and compare them."""
    from imgproc.compare import compare as run_comparison

    settings = settings_from_flags(config, **run_flags(**run))
    names = (policy_names() if policies == "all"
             else [p.strip() for p in policies.split(",") if p.strip()])
    try:
        for name in names:
            get_spec(name)
        loaded = [read_trace(path).trace for path in traces]
        result = run_comparison(settings, loaded, names)
    except ImgprocError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result.rows))
        return
    if markdown:
        click.echo(_markdown(result.rows))
        return
    console = Console() if Console().is_terminal else Console(width=200)
    console.print(_table(result.rows, settings.slo_s, settings.sim.boot_delay_s))


def _table(rows: list[dict], slo_s: float, boot_delay_s: float) -> Table:
    table = Table(title=f"objective {slo_s} s · boot delay {boot_delay_s} s · simulator")
    table.add_column("trace")
    for header, _ in COLUMNS:
        table.add_column(header, justify="left" if header == "policy" else "right")
    last_trace = None
    for row in rows:
        trace = row["trace"] if row["trace"] != last_trace else ""
        if trace and last_trace is not None:
            table.add_section()
        last_trace = row["trace"]
        table.add_row(trace, *[_cell(row.get(key)) for _, key in COLUMNS])
    return table


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _markdown(rows: list[dict]) -> str:
    lines = ["| trace | " + " | ".join(h for h, _ in COLUMNS) + " |",
             "|---|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [_cell(row.get(key)) for _, key in COLUMNS]
        lines.append(f"| {row['trace']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)

"""``imgproc policies``: every scaling policy, its summary and its parameters.

Policies are listed in registry order and numbered from 1, the numbers the
console's keys use. ``--json`` prints the same as one JSON array, for scripts.
"""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from imgproc.core.policies import policy_specs
from imgproc.core.policies.base import PolicySpec


def describe(number: int, spec: PolicySpec) -> dict[str, Any]:
    """One policy as plain data: number, name, summary and parameters."""
    return {
        "number": number,
        "name": spec.name,
        "summary": spec.summary,
        "params": [
            {"name": name, "type": kind, "default": default, "description": text}
            for name, kind, default, text in spec.describe()
        ],
    }


def _table(policy: dict[str, Any]) -> Table:
    table = Table(
        title=escape(f"{policy['number']}. {policy['name']}: {policy['summary']}"),
        title_justify="left",
    )
    for header in ("parameter", "type", "default"):
        table.add_column(header, no_wrap=True)
    table.add_column("description")
    for param in policy["params"]:
        cells = (param["name"], param["type"], repr(param["default"]), param["description"])
        table.add_row(*(escape(cell) for cell in cells))
    return table


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the policies as one JSON array.")
def policies(as_json: bool) -> None:
    """List the scaling policies with their parameters and defaults."""
    listed = [describe(number, spec) for number, spec in enumerate(policy_specs(), start=1)]
    if as_json:
        click.echo(json.dumps(listed, indent=2, default=str))
        return
    console = Console()
    for policy in listed:
        console.print(_table(policy))
        console.print()

"""The ``imgproc`` command: components and tools, one subcommand each.

Each subcommand's module is imported when that subcommand runs (click's lazy loading
of subcommands, as its documentation shows it): a worker, started by every scale-up,
does not pay for the tools' imports (rich, numpy, boto3), a few tenths of a second of
its start on a busy core.
"""

from __future__ import annotations

import importlib

import click

#: Subcommand name to ``module:attribute``, in ``--help``'s order.
COMMANDS = {
    "workload": "imgproc.cli.workload:workload",
    "policies": "imgproc.cli.policies:policies",
    "compare": "imgproc.cli.compare:compare",
    "calibrate": "imgproc.cli.calibrate:calibrate",
    "fidelity": "imgproc.cli.fidelity:fidelity",
    "photos": "imgproc.cli.photos:photos",
    "box": "imgproc.cli.box:box",
    "broker": "imgproc.cli.broker:broker",
    "job": "imgproc.cli.job:job",
    "schema": "imgproc.cli.schema:schema",
    "worker": "imgproc.cli.live:worker",
    "deployer": "imgproc.cli.live:deployer",
    "scaler": "imgproc.cli.live:scaler",
    "submit": "imgproc.cli.live:submit",
    "zk": "imgproc.cli.live:zk",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when they are asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="imgproc")
def main() -> None:
    """imgproc: image jobs on a self-scaling worker fleet."""

"""``imgproc-tui``: the operator console, and its headless ``--replay`` mode."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console

from imgproc.cli.options import parse_params, run_flags, run_options, settings_from_flags


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--replay", "trace", type=click.Path(path_type=Path, dir_okay=False),
              help="Replay this trace headless (no UI) and print a summary.")
@click.option("--policy", help="Scaling policy (see `imgproc policies`) [slo].")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A policy parameter; repeat for more.")
@click.option("--backend", type=click.Choice(["sim", "live"]), help="Where to run [sim].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the metrics.")
@click.option("--report", "report_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Write series CSV, summary JSON and PNG charts into this folder.")
@click.option("--skip-invalid", is_flag=True, help="Leave out invalid trace lines (each is reported).")
@click.option("--speed", type=float, default=1.0, show_default=True,
              help="Live: divide arrival gaps and simulated service times by this.")
@click.option("--provider", type=click.Choice(["local"]), help="Live: how machines are made [local].")
@run_options
def main(trace, policy, params, backend, as_json, report_dir, skip_invalid, speed, provider,
         config, **run) -> None:
    """The imgproc operator console; with --replay, a headless run that reports."""
    flags = run_flags(**run)
    if backend == "live":
        flags["provider"] = {"kind": provider, "boot_delay_s": flags["sim"]["boot_delay_s"]}
        if speed != 1.0 and flags["scaler"]["interval_s"] is None:
            flags["scaler"]["interval_s"] = max(0.5, 10.0 / speed)
    settings = settings_from_flags(
        config, policy=policy, policy_params=parse_params(params) or None, backend=backend, **flags,
    )
    if trace is None:
        raise click.UsageError(
            "the interactive console is not built yet; use --replay TRACE for a headless run"
        )
    from imgproc.replay import replay_trace

    err = Console(stderr=True)
    outcome = replay_trace(settings, trace, skip_invalid=skip_invalid, console=err,
                           report_dir=report_dir, speed=speed)
    if as_json:
        click.echo(json.dumps(outcome.summary))
    else:
        from imgproc.summary_view import summary_table

        Console().print(summary_table(outcome.summary))
        if report_dir is not None:
            err.print(f"report written to {report_dir}")
    sys.exit(1 if outcome.summary["jobs_lost"] or outcome.summary["jobs_failed"] else 0)
if __name__ == "__main__":
    main()

"""``imgproc-tui``: the operator console, and its headless ``--replay`` mode.

Without ``--backend`` the console looks for the live services (a quick TCP
connect to RabbitMQ and ZooKeeper) and falls back to the simulator when
neither answers. The live console ended by SIGTERM, SIGINT or SIGHUP closes as on
quit, destroying its machines (a read-only console changes nothing), then exits with
status 128 + the signal's number.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console

from imgproc.bootstrap.console import provider_names
from imgproc.core.errors import ImgprocError
from imgproc.options import (
    cold_start_option,
    parse_params,
    run_flags,
    run_options,
    settings_from_flags,
)
from imgproc.settings import Settings

if TYPE_CHECKING:
    from imgproc.tui.app import ConsoleApp
    from imgproc.tui.model import ConsoleBackend

DEFAULT_TRACE = Path("workloads/burst.jsonl")


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
@click.option("--skip-invalid", is_flag=True,
              help="Leave out invalid trace lines (each is reported).")
@click.option("--speed", type=click.FloatRange(min=0, min_open=True, max=100),
              help="Live: run every component on the trace's clock, this many times faster "
                   "(every time, in flags and in the summary, in trace seconds); simulator "
                   "with --profile: predict a live run at this speed [1].")
@click.option("--provider", type=click.Choice(provider_names(runs_workers=True)),
              help="Live: how machines are made, local processes or VMs [local].")
@click.option("--trace", "console_trace",
              type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help=f"Console on the simulator: replay this trace [{DEFAULT_TRACE}].")
@click.option("--read-only", is_flag=True, help="Console: show everything, change nothing.")
@cold_start_option
@run_options
def main(trace, policy, params, backend, as_json, report_dir, skip_invalid, speed, provider,
         console_trace, read_only, cold_start, config, **run) -> None:
    """The imgproc operator console; with --replay, a headless run that reports."""
    flags = run_flags(**run, cold_start=cold_start)
    if backend == "live":
        flags["provider"] = {"kind": provider, "boot_delay_s": flags["sim"]["boot_delay_s"]}
    if trace is not None:  # live: the run's clock; the simulator: a profile's costs at it
        flags["clock"] = {"speed": speed}
    settings = settings_from_flags(
        config, policy=policy, policy_params=parse_params(params) or None, backend=backend, **flags,
    )
    if trace is None:
        run_console(settings, backend, console_trace, read_only)
        return
    from imgproc.replay import replay_trace

    err = Console(stderr=True)
    outcome = replay_trace(settings, trace, skip_invalid=skip_invalid, console=err,
                           report_dir=report_dir)
    if as_json:
        click.echo(json.dumps(outcome.summary))
    else:
        from imgproc.summary_view import summary_table

        Console().print(summary_table(outcome.summary))
        if report_dir is not None:
            err.print(f"report written to {report_dir}")
    sys.exit(1 if outcome.summary["jobs_lost"] or outcome.summary["jobs_failed"] else 0)


def run_console(settings: Settings, backend: str | None, trace: Path | None,
                read_only: bool) -> None:
    """Open the console on the chosen backend (or the one that answers) until it quits."""
    from imgproc.bootstrap.console import open_console
    from imgproc.tui.app import ConsoleApp

    try:
        console_backend = open_console(settings, backend, trace, read_only, DEFAULT_TRACE)
    except ImgprocError as exc:
        raise click.ClickException(f"live services: {exc}" if backend == "live"
                                   else str(exc)) from exc
    workloads = (trace or DEFAULT_TRACE).parent
    app = ConsoleApp(console_backend, read_only=read_only, workloads=workloads)
    if console_backend.kind != "live":
        app.run()  # nothing outlives this process: a signal may end it as it likes
        return
    from imgproc.bootstrap.live import stopped_by_signals

    stop = threading.Event()
    with stopped_by_signals(stop) as caught:
        threading.Thread(target=_exit_when_stopped, args=(stop, app), daemon=True).start()
        app.run()
        signum = caught()
        if signum is not None:
            close_as_on_quit(console_backend, read_only)
    if signum is not None:
        sys.exit(128 + signum)


def _exit_when_stopped(stop: threading.Event, app: ConsoleApp) -> None:
    stop.wait()
    with contextlib.suppress(RuntimeError):  # the app is not running (any more)
        app.call_from_thread(app.exit)


def close_as_on_quit(backend: ConsoleBackend, read_only: bool) -> None:
    """Close as the quit dialog's "destroy machines" does; the deployer is started again
    first (a signal sent to the whole process group ended it too)."""
    destroy = not read_only and backend.running_machines() > 0
    if destroy:
        backend.component("deployer", "restart")
    backend.close(destroy)


if __name__ == "__main__":
    main()

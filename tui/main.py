"""``imgproc-tui``: the operator console, and its headless ``--replay`` mode.

Without ``--backend`` the console looks for the live services (a quick TCP
connect to RabbitMQ and ZooKeeper) and falls back to the simulator when
neither answers.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

import click
from rich.console import Console

from imgproc.cli.options import parse_params, run_flags, run_options, settings_from_flags
from imgproc.core.errors import ImgprocError
from imgproc.settings import Settings

DEFAULT_TRACE = Path("workloads/burst.jsonl")
PROBE_TIMEOUT_S = 0.5
NO_SERVICE = "no service reachable: running on the simulator"


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
@click.option("--speed", type=float, default=1.0, show_default=True,
              help="Live: divide arrival gaps and simulated service times by this.")
@click.option("--provider", type=click.Choice(["local", "vagrant"]),
              help="Live: how machines are made, local processes or VMs [local].")
@click.option("--trace", "console_trace",
              type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help=f"Console on the simulator: replay this trace [{DEFAULT_TRACE}].")
@click.option("--read-only", is_flag=True, help="Console: show everything, change nothing.")
@run_options
def main(trace, policy, params, backend, as_json, report_dir, skip_invalid, speed, provider,
         console_trace, read_only, config, **run) -> None:
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
        run_console(settings, backend, console_trace, read_only)
        return
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


def service_addresses(settings: Settings) -> list[tuple[str, int]]:
    """RabbitMQ's host and port, then each ZooKeeper server's."""
    rabbit = urlsplit(settings.rabbit.url)
    found = [(rabbit.hostname or "127.0.0.1", rabbit.port or 5672)]
    for server in settings.zk.hosts.split(","):
        host, _, port = server.strip().split("/")[0].rpartition(":")
        found.append(((host or server.strip()).strip("[]"), int(port) if port.isdigit() else 2181))
    return found


def reachable(address: tuple[str, int], timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to ``address`` opens within ``timeout_s``."""
    try:
        with socket.create_connection(address, timeout=timeout_s):
            return True
    except OSError:
        return False


def run_console(settings: Settings, backend: str | None, trace: Path | None,
                read_only: bool) -> None:
    """Open the console on the chosen backend (or the one that answers) until it quits."""
    from imgproc.tui.app import ConsoleApp

    if backend == "sim":
        console_backend = open_sim(settings, trace)
    elif backend == "live":
        try:
            console_backend = open_live(settings, read_only)
        except ImgprocError as exc:
            raise click.ClickException(f"live services: {exc}") from exc
    elif not any(reachable(a) for a in service_addresses(settings)):
        console_backend = open_sim(settings, trace, NO_SERVICE)
    else:
        try:
            console_backend = open_live(settings, read_only)
        except ImgprocError as exc:
            console_backend = open_sim(settings, trace, f"live services failed ({exc}): "
                                                        "running on the simulator")
    workloads = (trace or DEFAULT_TRACE).parent
    ConsoleApp(console_backend, read_only=read_only, workloads=workloads).run()


def open_sim(settings: Settings, trace: Path | None, notice: str | None = None):
    """The simulator replaying ``trace`` (or the default trace, when there is one)."""
    from imgproc.tui.sim_backend import SimBackend

    chosen = trace or (DEFAULT_TRACE if DEFAULT_TRACE.is_file() else None)
    if chosen is None:
        notice = "; ".join(filter(None, [notice, f"no {DEFAULT_TRACE}: press r to replay a trace"]))
    try:
        return SimBackend(settings, chosen, notice=notice)
    except ImgprocError as exc:
        raise click.ClickException(str(exc)) from exc


def open_live(settings: Settings, read_only: bool):
    """The live backend; read-only, it starts no child process."""
    from imgproc.tui.live_backend import LiveBackend

    return LiveBackend(settings, start_components=not read_only)


if __name__ == "__main__":
    main()

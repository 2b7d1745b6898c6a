"""The live system's commands: worker, deployer, scaler, submit, zk dump/clear."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import click

from imgproc.adapters.providers import provider_names
from imgproc.core.errors import ImgprocError
from imgproc.core.machines import is_machine_id
from imgproc.options import parse_params, settings_from_flags

config_option = click.option("--config", type=click.Path(path_type=Path, dir_okay=False),
                             help="TOML settings file (also IMGPROC_CONFIG).")
log_option = click.option("--log-level", default="INFO", show_default=True,
                          type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]))
parent_option = click.option(
    "--stop-with-parent", is_flag=True,
    help="Stop, as on SIGTERM, once the process that started this one has ended (a live "
         "replay or the console starts its deployer and scaler so).")


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)
    logging.getLogger("kazoo").setLevel(logging.WARNING)


def _run(component, settings, stop_with_parent: bool = False, **kwargs) -> None:
    from imgproc.live import signals

    stop = threading.Event()
    signals.stop_on_signals(stop)
    if stop_with_parent:
        signals.stop_with_parent(stop)
    try:
        code = component(settings, stop=stop, **kwargs)
    except ImgprocError as exc:
        raise click.ClickException(str(exc)) from exc
    raise SystemExit(code)


def _machine_id(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if not is_machine_id(value):
        raise click.BadParameter(f"{value!r} could name a path or an option: no '/', no "
                                 "control characters, not '.' or '..', no leading '-'")
    return value


@click.command()
@click.option("--machine-id", required=True, callback=_machine_id,
              help="The machine this worker is (its registry record).")
@config_option
@log_option
def worker(machine_id, config, log_level) -> None:
    """Serve jobs from the queue until SIGTERM (finishing the current job)."""
    from imgproc.bootstrap.processes import run_worker

    _setup_logging(log_level)
    _run(run_worker, settings_from_flags(config), machine_id=machine_id)


@click.command()
@click.option("--provider", type=click.Choice(provider_names(runs_workers=True)),
              help="How machines are made: local processes, vagrant VMs (docs/providers.md) "
                   "[local].")
@click.option("--boot-delay", "boot_delay_s", type=float,
              help="Local workers wait this long first [0].")
@parent_option
@config_option
@log_option
def deployer(provider, boot_delay_s, stop_with_parent, config, log_level) -> None:
    """Start and stop machines on command, keeping the registry true."""
    from imgproc.bootstrap.processes import run_deployer

    _setup_logging(log_level)
    settings = settings_from_flags(config,
                                   provider={"kind": provider, "boot_delay_s": boot_delay_s})
    _run(run_deployer, settings, stop_with_parent)


@click.command()
@click.option("--policy",
              help="Policy to start with, if the registry has none (see `imgproc policies`).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="A policy parameter.")
@click.option("--interval", "interval_s", type=float, help="Seconds between decisions [10].")
@click.option("--identifier", help="Name in the election (default: random).")
@parent_option
@config_option
@log_option
def scaler(policy, params, interval_s, identifier, stop_with_parent, config, log_level) -> None:
    """Decide the fleet's size every interval; only the elected scaler acts."""
    from imgproc.bootstrap.processes import run_scaler

    _setup_logging(log_level)
    settings = settings_from_flags(config, policy=policy,
                                   policy_params=parse_params(params) or None,
                                   scaler={"interval_s": interval_s})
    _run(run_scaler, settings, stop_with_parent, identifier=identifier)


@click.command()
@click.argument("trace_path", metavar="TRACE", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True,
              help="Divide arrival gaps and simulated service times by this (for a fleet on "
                   "wall time).")
@click.option("--prefix", default="", help="Prefix for job ids (to tell runs apart).")
@config_option
@log_option
def submit(trace_path, speed, prefix, config, log_level) -> None:
    """Replay a trace's timing onto the jobs queue, stamping each job's submit time."""
    from imgproc.bootstrap.live import submit_file

    _setup_logging(log_level)
    settings = settings_from_flags(config)
    try:
        trace, count = submit_file(settings, trace_path, speed, prefix)
    except ImgprocError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"submitted {count} jobs of {trace.name} to {settings.rabbit.safe_url}")


@click.group()
def zk() -> None:
    """Look at or clear imgproc's ZooKeeper tree."""


@zk.command()
@config_option
def dump(config) -> None:
    """Print every node under the root with its data."""
    from imgproc.adapters.zk.client import connected
    from imgproc.adapters.zk.tree import walk

    settings = settings_from_flags(config)
    try:
        with connected(settings.zk) as client:
            for node in walk(client, settings.zk.root):
                flag = " (ephemeral)" if node.stat.ephemeralOwner else ""
                click.echo(f"{node.path}{flag}")
                if node.data:
                    click.echo(f"    {node.data.decode('utf-8', 'backslashreplace')}")
    except ImgprocError as exc:
        raise click.ClickException(str(exc)) from exc


@zk.command()
@click.option("--yes", is_flag=True, help="Delete without asking.")
@config_option
def clear(yes, config) -> None:
    """Delete the whole tree under the root, after a confirmation.

    Without --yes it asks on a terminal; elsewhere it only says what would go.
    """
    from imgproc.adapters.zk.client import connected
    from imgproc.adapters.zk.tree import clear as clear_tree
    from imgproc.adapters.zk.tree import walk

    settings = settings_from_flags(config)
    try:
        with connected(settings.zk) as client:
            nodes = [node.path for node in walk(client, settings.zk.root)]
            question = f"delete {len(nodes)} nodes under {settings.zk.root} on {settings.zk.hosts}?"
            if not yes and not (_interactive() and click.confirm(question)):
                click.echo(f"would {question[:-1]}; nothing deleted (confirm, or pass --yes)")
                return
            removed = clear_tree(client, settings.zk.root)
    except ImgprocError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"deleted {removed} nodes under {settings.zk.root}")


def _interactive() -> bool:
    import sys

    return sys.stdin.isatty()

"""``imgproc fidelity``: one trace live and simulated, side by side."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from imgproc.adapters.providers import provider_names
from imgproc.core.errors import ImgprocError
from imgproc.core.metrics.fidelity import DEFAULT_TOLERANCE, Difference, as_json, differences
from imgproc.options import parse_params, run_flags, run_options, settings_from_flags
from imgproc.settings import Settings


@click.command()
@click.argument("trace", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--policy", help="Scaling policy [slo].")
@click.option("--param", "params", multiple=True, help="Policy parameter NAME=VALUE.")
@click.option("--speed", type=click.FloatRange(min=0, min_open=True, max=100), default=1.0,
              show_default=True, help="Play the live run this many times faster (the "
                                      "simulator predicts a run at this speed).")
@click.option("--provider", type=click.Choice(provider_names(runs_workers=True)),
              help="How the live run's machines are made [local].")
@click.option("--tolerance", type=click.FloatRange(min=0), default=DEFAULT_TOLERANCE,
              show_default=True, help="Largest relative difference that agrees.")
@click.option("--json", "as_json_output", is_flag=True, help="Print one JSON object.")
@run_options
def fidelity(trace, policy, params, speed, provider, tolerance, as_json_output, config,
             **run) -> None:
    """Run TRACE live and in the simulator and compare the two summaries."""
    from imgproc.bootstrap.sim import simulate
    from imgproc.replay import replay_trace

    flags = run_flags(**run)
    flags["provider"] = {"kind": provider}
    flags["clock"] = {"speed": speed}
    loaded = settings_from_flags(config, policy=policy,
                                 policy_params=parse_params(params) or None, **flags)
    settings = one_experiment(loaded)
    try:
        from imgproc.adapters.trace_files import read_trace

        simulated = simulate(settings, read_trace(trace).trace).summary
    except ImgprocError as exc:
        raise click.ClickException(str(exc)) from exc
    live = replay_trace(settings.model_copy(update={"backend": "live"}), trace).summary
    rows = differences(simulated, live, tolerance)
    if as_json_output:
        click.echo(json.dumps({
            "trace": live["trace"], "policy": settings.policy, "speed": speed,
            "profile": settings.sim.profile, "tolerance": tolerance, "simulated": simulated,
            "live": live, "differences": as_json(rows),
            "beyond": [r.metric for r in rows if r.goal and not r.within]}))
        return
    Console().print(_table(rows, live["trace"], settings.policy, speed, settings.sim.profile,
                           tolerance))


def one_experiment(settings: Settings) -> Settings:
    """The settings of both halves: the live machines boot as long as the simulated ones,
    and the simulated fleet starts as a live replay's does, with no machine (the scaler's
    first round asks for ``min_workers``, which boot), not warm as other simulated runs."""
    return settings.model_copy(update={
        "provider": settings.provider.model_copy(
            update={"boot_delay_s": settings.sim.boot_delay_s}),
        "sim": settings.sim.model_copy(update={"warm_start": False})})


def _table(rows: list[Difference], trace: str, policy: str, speed: float,
           profile: str | None, tolerance: float) -> Table:
    table = Table(title=f"{trace} · {policy} · speed {speed:g} · profile {profile or 'none'} "
                        f"· tolerance {tolerance:.0%}")
    for header in ("metric", "simulated", "live", "difference", "verdict"):
        table.add_column(header, justify="left" if header == "metric" else "right")
    for r in rows:
        verdict = ("within" if r.within else "BEYOND") if r.goal else (
            "within" if r.within else "beyond")
        table.add_row(r.metric + (" *" if r.goal else ""), _number(r.simulated),
                      _number(r.live), _percent(r.relative), verdict)
    table.caption = "* the goal's metrics; difference = (live - simulated) / simulated"
    return table


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.3f}".rstrip("0").rstrip(".")


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1%}"

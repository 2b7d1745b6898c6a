"""``imgproc calibrate``: measure the live system's costs into a profile file."""

from __future__ import annotations

import threading
from pathlib import Path

import click

from imgproc.adapters.providers import provider_names
from imgproc.cli.live import config_option
from imgproc.core.errors import ImgprocError
from imgproc.options import settings_from_flags


@click.command()
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Write the profile (JSON) here.")
@click.option("--name", default="calibrated", show_default=True, help="The profile's name.")
@click.option("--starts", default="1,2,4,8", show_default=True,
              help="Numbers of workers started at once, comma-separated.")
@click.option("--jobs", "batch", type=click.IntRange(min=10), default=200, show_default=True,
              help="Empty jobs played back to back on one worker.")
@click.option("--provider", type=click.Choice(provider_names(runs_workers=True)),
              help="How machines are made [local].")
@config_option
def calibrate(out, name, starts, batch, provider, config) -> None:
    """Measure worker start-up, dispatch and per-job overhead on the live system (a few
    live replays, about a minute) and write them as a profile for `--profile`."""
    from imgproc.adapters.profile_files import write_profile
    from imgproc.calibrate import calibrate as measure
    from imgproc.live.signals import stopped_by_signals

    try:
        counts = [int(s) for s in starts.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(f"expected numbers like 1,2,4,8, got {starts!r}",
                                 param_hint="--starts") from None
    if not counts or min(counts) < 1:
        raise click.BadParameter("at least one number, each at least 1", param_hint="--starts")
    settings = settings_from_flags(config, provider={"kind": provider})
    stop = threading.Event()
    try:
        with stopped_by_signals(stop):
            profile = measure(settings, name, stop, counts, batch,
                              say=lambda line: click.echo(line, err=True))
        click.echo(profile.model_dump_json(indent=2))  # kept even if the file cannot be
        write_profile(out, profile)
    except ImgprocError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {out}", err=True)

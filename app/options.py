"""Options shared by commands, and turning them into settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from imgproc.core.errors import ImgprocError
from imgproc.settings import Settings, load_settings


def parse_params(values: tuple[str, ...]) -> dict[str, Any]:
    """``--param name=value`` pairs; values are JSON when they parse, else strings."""
    params: dict[str, Any] = {}
    for item in values:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got '{item}'", param_hint="--param")
        try:
            params[name] = json.loads(raw)
        except json.JSONDecodeError:
            params[name] = raw
    return params


def settings_from_flags(config: Path | None, **flags: Any) -> Settings:
    """Load settings with the given flags on top; errors become click errors."""
    try:
        return load_settings(config, **flags)
    except ImgprocError as exc:
        raise click.ClickException(str(exc)) from exc


def run_options(func):
    """Flags common to replay and compare: objective, boot delay, scaler interval, config."""
    options = [
        click.option("--config", type=click.Path(path_type=Path, dir_okay=False),
                     help="TOML settings file (also IMGPROC_CONFIG)."),
        click.option("--slo", "slo_s", type=float, help="Response-time objective in seconds [2]."),
        click.option("--boot-delay", "boot_delay_s", type=float,
                     help="Seconds from request to ready [30]."),
        click.option("--release-delay", "release_delay_s", type=float,
                     help="Seconds from release to gone [0]."),
        click.option("--interval", "interval_s", type=float,
                     help="Seconds between scaler decisions [10]."),
        click.option("--max-workers", type=int, help="Upper bound on workers [50]."),
        click.option("--min-workers", type=int, help="Lower bound on workers [1]."),
        click.option("--seed", type=int, help="Seed for the simulator's randomness [0]."),
        click.option("--profile", help="Simulator: add the live system's costs measured in "
                                       "this profile (a file from `imgproc calibrate`, or a "
                                       "shipped name: local) [none]."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


cold_start_option = click.option(
    "--cold-start", is_flag=True,
    help="Simulator: start with no machine (the scaler's first round asks for min_workers, "
         "which then boot) instead of min_workers running at 0. A live replay always "
         "starts so.")


def run_flags(slo_s, boot_delay_s, release_delay_s, interval_s, max_workers, min_workers,
              seed, profile, cold_start: bool = False) -> dict:
    return {
        "slo_s": slo_s,
        "sim": {"boot_delay_s": boot_delay_s, "release_delay_s": release_delay_s, "seed": seed,
                "profile": profile, "warm_start": False if cold_start else None},
        "scaler": {"interval_s": interval_s, "max_workers": max_workers,
                   "min_workers": min_workers},
    }

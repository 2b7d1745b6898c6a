"""``imgproc box``: the worker VM box for the Vagrant provider (build, check, remove).

The provider builds the box itself when its first machine starts; this command
does it ahead of time (and shows the builder's progress), so that the first
scale-up costs only a boot. Both use the same cache: a second build is instant.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import click

from imgproc.cli.live import config_option
from imgproc.core.errors import ImgprocError
from imgproc.options import settings_from_flags


@click.group()
def box() -> None:
    """The worker VM box of the Vagrant provider."""


@box.command()
@config_option
def build(config: Path | None) -> None:
    """Set up this host for VMs, build imgproc's wheels and the box (cached), print the box."""
    from imgproc.adapters.providers.vagrant.box import ensure_host, script, source_root, wheels_dir
    from imgproc.adapters.providers.vagrant.wheels import build_wheels

    settings = settings_from_flags(config)
    try:
        ensure_host()
        wheels = build_wheels(source_root(), wheels_dir(settings.provider.state_dir))
    except ImgprocError as exc:
        raise click.ClickException(str(exc)) from exc
    builder = script("build-box.sh")
    done = subprocess.run([str(builder), "--wheels", str(wheels)], stdout=subprocess.PIPE,
                          text=True, check=False)  # the builder's progress goes straight to stderr
    if done.returncode != 0:
        raise click.ClickException(f"{builder} failed with exit status {done.returncode}")
    click.echo(done.stdout.strip().splitlines()[-1])


@box.command()
@config_option
def check(config: Path | None) -> None:
    """Exit 0 if the box for the current sources is built and registered, 1 if not."""
    from imgproc.adapters.providers.vagrant.box import script, source_root, wheels_dir
    from imgproc.adapters.providers.vagrant.wheels import wheels_are_current

    wheels = wheels_dir(settings_from_flags(config).provider.state_dir)
    ready = wheels_are_current(source_root(), wheels) and subprocess.run(
        [str(script("build-box.sh")), "--wheels", str(wheels), "--check"],
        check=False).returncode == 0
    click.echo(json.dumps({"ready": ready}))
    raise SystemExit(0 if ready else 1)


@box.command()
@click.option("--yes", is_flag=True, help="Do not ask first.")
def remove(yes: bool) -> None:
    """Unregister every imgproc box and delete its files and build cache."""
    from imgproc.adapters.providers.vagrant.box import script

    if not yes:
        click.confirm("Remove every imgproc box, its kernel, initrd and build cache?", abort=True)
    done = subprocess.run([str(script("build-box.sh")), "--remove"], check=False)
    raise SystemExit(done.returncode)

"""``imgproc broker``: what an operator does on RabbitMQ by hand: move the jobs queue to
imgproc's arguments, look at the dead letters, find a result nobody was listening for."""

from __future__ import annotations

import json
from pathlib import Path

import click

from imgproc.core.errors import ImgprocError
from imgproc.options import settings_from_flags

config_option = click.option("--config", type=click.Path(path_type=Path, dir_okay=False),
                             help="TOML settings file (also IMGPROC_CONFIG).")


@click.group()
def broker() -> None:
    """Move imgproc's queues, read dead letters and kept results on RabbitMQ."""


@broker.command()
@config_option
def migrate(config) -> None:
    """Make every queue of imgproc's a quorum queue (the jobs queue with imgproc's delivery
    limit), keeping its messages.

    Done by every imgproc process when it connects; run by hand after upgrading from
    classic queues or changing rabbit.delivery_limit while older processes still consume
    them: it is refused until they are stopped, and says which queue.
    """
    from imgproc.adapters.rabbit.connection import RabbitLink
    from imgproc.adapters.rabbit.topology import declare_topology

    rabbit = settings_from_flags(config).rabbit
    link = RabbitLink(rabbit, "migrate", declare=False)
    try:
        moved = link.run("declaring imgproc's queues", lambda ch: declare_topology(ch, rabbit))
    except ImgprocError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        link.close()
    for queue, count in moved.items():
        click.echo(f"{queue}: quorum queue, {count} message(s) moved")
    click.echo(f"on {rabbit.safe_url}; the jobs queue's delivery limit is "
               f"{rabbit.delivery_limit}")


@broker.command(name="dead-letters")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@config_option
def dead_letters_command(limit, as_json, config) -> None:
    """List the dead-lettered jobs with why each is there, leaving them in place."""
    from imgproc.adapters.rabbit.peek import dead_letters

    rabbit = settings_from_flags(config).rabbit
    try:
        letters = dead_letters(rabbit, limit)
    except ImgprocError as exc:
        raise click.ClickException(str(exc)) from exc
    for message, reason in letters:
        if as_json:
            click.echo(json.dumps({"job_id": message.message_id, "reason": reason}))
        else:
            click.echo(f"{message.message_id or '(no id)'}: {reason}")
    if not as_json:
        click.echo(f"{len(letters)} dead letter(s) in {rabbit.dead_letter_queue}")


@broker.command()
@click.argument("job_id")
@config_option
def result(job_id, config) -> None:
    """Print every kept result of JOB_ID (JSON, one per line; a job done twice has two)."""
    from imgproc.adapters.rabbit.results import RabbitResultLookup

    rabbit = settings_from_flags(config).rabbit
    try:
        lookup = RabbitResultLookup(rabbit)
        try:
            found = lookup.find(job_id)
        finally:
            lookup.close()
    except ImgprocError as exc:
        raise click.ClickException(str(exc)) from exc
    if not found:
        raise click.ClickException(f"no result of job {job_id} kept in "
                                   f"{rabbit.kept_results_queue} (results are kept "
                                   f"{rabbit.kept_results_ttl_s:g} s, the newest "
                                   f"{rabbit.kept_results_max_bytes} bytes of them)")
    for one in found:
        click.echo(one.encode().decode())

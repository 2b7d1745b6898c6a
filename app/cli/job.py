"""``imgproc job``: hand in one image job, ask after it, fetch its output.

The command-line face of :class:`imgproc.client.Client`: a local file is uploaded to the
object store, the job goes to the jobs queue, and ``--wait`` waits on the client's own
reply queue. A job that fails exits with status 1 and its error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from imgproc.core.errors import ImgprocError
from imgproc.core.messages import ResultMessage
from imgproc.options import settings_from_flags

if TYPE_CHECKING:
    from imgproc.client import Client

config_option = click.option("--config", type=click.Path(path_type=Path, dir_okay=False),
                             help="TOML settings file (also IMGPROC_CONFIG).")
json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print the result as one JSON object.")


@click.group()
def job() -> None:
    """Submit an image job, see its status, download its output."""


@job.command()
@click.argument("source", metavar="FILE_OR_URL")
@click.option("--op", "ops", multiple=True, required=True, metavar="OP",
              help="thumbnail:SIZE, resize:WxH, crop:L,T,WxH, rotate:DEG, blur:R, grayscale, "
                   "sharpen, convert:FORMAT[:QUALITY]; repeat, applied in order.")
@click.option("--output", help="Where to write: s3://bucket/key, or a path under the "
                               "workers' output root (default: s3://BUCKET/outputs/JOB.EXT).")
@click.option("--wait/--no-wait", default=False, help="Wait for the result.")
@click.option("--timeout", type=click.FloatRange(min=0), default=300.0, show_default=True,
              help="Seconds to wait with --wait.")
@json_option
@config_option
def submit(source, ops, output, wait, timeout, as_json, config) -> None:
    """Submit FILE_OR_URL (a local image, uploaded first, or an s3:// URL) with its ops."""
    from imgproc.client import Client

    settings = settings_from_flags(config)
    try:
        with Client(settings, replies=wait) as client:
            handle = client.submit(source, ops, output)
            if not wait:
                show({"job_id": handle.job_id, "status": "queued", "output": handle.job.output,
                      "error": None}, as_json)
                return
            result = handle.result(timeout)
    except ImgprocError as exc:
        raise click.ClickException(str(exc)) from exc
    finish(result, as_json)


@job.command()
@click.argument("job_id")
@json_option
@config_option
def status(job_id, as_json, config) -> None:
    """The result of JOB_ID, from the kept results (exit 1 if it failed, 2 if none yet)."""
    with opened_client(config) as client:
        result = lookup(client, job_id)
    if result is None:
        show({"job_id": job_id, "status": "unknown", "output": None,
              "error": "no result kept: queued, running, or older than the kept results"},
             as_json)
        raise SystemExit(2)
    finish(result, as_json)


@job.command()
@click.argument("job_id")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The file to write the output into.")
@config_option
def get(job_id, out, config) -> None:
    """Download the output of JOB_ID into --out."""
    with opened_client(config) as client:
        result = lookup(client, job_id)
        if result is None or result.status != "done" or not result.output:
            reason = "no result kept" if result is None else result.error or "no output"
            raise click.ClickException(f"job {job_id} has no output to get: {reason}")
        try:
            size = client.download(result.output, out)
        except ImgprocError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"{result.output} -> {out} ({size:,} bytes)")


def opened_client(config: Path | None) -> Client:
    from imgproc.client import Client

    try:
        return Client(settings_from_flags(config), replies=False)
    except ImgprocError as exc:
        raise click.ClickException(str(exc)) from exc


def lookup(client: Client, job_id: str) -> ResultMessage | None:
    try:
        return client.status(job_id)
    except ImgprocError as exc:
        raise click.ClickException(str(exc)) from exc


def finish(result: ResultMessage, as_json: bool) -> None:
    """Print ``result``; a failed job exits 1 with its error."""
    fields = result.model_dump(mode="json", exclude_none=True)
    fields |= {"error": result.error, "response_s": round(result.response_s, 3),
               "service_s": round(result.service_s, 3)}
    show(fields, as_json)
    if result.status != "done":
        raise SystemExit(1)


SHOWN = ("job_id", "status", "output", "output_bytes", "width", "height", "format", "worker",
         "response_s", "service_s", "error")


def show(fields: dict[str, Any], as_json: bool) -> None:
    """One JSON object, or ``key: value`` lines (a failure's error on stderr)."""
    if as_json:
        click.echo(json.dumps(fields, sort_keys=True))
        return
    for key in SHOWN:
        if fields.get(key) is not None:
            click.echo(f"{key}: {fields[key]}", err=key == "error")

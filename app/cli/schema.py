"""``imgproc schema``: the JSON Schema of the messages, for clients in other languages."""

from __future__ import annotations

import json

import click
from pydantic import BaseModel

from imgproc.core.messages import JobMessage, ResultMessage

MESSAGES: dict[str, type[BaseModel]] = {"job": JobMessage, "result": ResultMessage}


@click.command()
@click.argument("message", type=click.Choice(sorted(MESSAGES)))
def schema(message: str) -> None:
    """Print the JSON Schema of a job (what to publish on the jobs queue) or of a result
    (what workers publish and reply)."""
    document = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                **MESSAGES[message].model_json_schema()}
    click.echo(json.dumps(document, indent=2))

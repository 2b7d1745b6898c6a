"""``imgproc photos``: write reproducible synthetic photographs for benchmarks and demos."""

from __future__ import annotations

from pathlib import Path

import click

from imgproc.core.errors import ImgprocError


def parse_size(ctx: click.Context, param: click.Parameter,
               values: tuple[str, ...]) -> list[tuple[int, int]]:
    """``WxH`` strings as (width, height) pairs."""
    sizes = []
    for value in values:
        width, sep, height = value.lower().partition("x")
        if not sep or not width.isdigit() or not height.isdigit():
            raise click.BadParameter(f"expected WIDTHxHEIGHT such as 4000x3000, got '{value}'")
        sizes.append((int(width), int(height)))
    return sizes


@click.command()
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Directory to write the photos into (created if missing).")
@click.option("--count", default=6, show_default=True, type=click.IntRange(min=0),
              help="How many photos.")
@click.option("--size", "sizes", multiple=True, default=("4000x3000",), show_default=True,
              callback=parse_size, help="WIDTHxHEIGHT; repeat for several sizes.")
@click.option("--format", "formats", multiple=True, default=("jpeg",), show_default=True,
              type=click.Choice(["jpeg", "png", "webp"]), help="Repeat for several formats.")
@click.option("--seed", default=1, show_default=True, type=click.IntRange(min=0),
              help="The same seed writes byte-identical files.")
def photos(out: Path, count: int, sizes: list[tuple[int, int]], formats: tuple[str, ...],
           seed: int) -> None:
    """Write COUNT synthetic photos, cycling through every (size, format) pair."""
    from imgproc.adapters.photos import make_photos

    try:
        paths = make_photos(out, count, sizes, formats, seed)
    except (ImgprocError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    for path in paths:
        click.echo(f"{path}  {path.stat().st_size:,} bytes")
    click.echo(f"wrote {len(paths)} photo(s) to {out} (seed {seed})")

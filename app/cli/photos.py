"""``imgproc photos``: write reproducible synthetic photographs for benchmarks and demos."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from imgproc.core.errors import ImgprocError
from imgproc.core.storage import S3_SCHEME, StorageError

PHOTOS_OWNER = "imgproc-photos"


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
@click.option("--out", "out", required=True,
              help="Directory to write the photos into (created if missing), or "
                   "s3://bucket/prefix (a place in storage.places).")
@click.option("--count", default=6, show_default=True, type=click.IntRange(min=0),
              help="How many photos.")
@click.option("--size", "sizes", multiple=True, default=("4000x3000",), show_default=True,
              callback=parse_size, help="WIDTHxHEIGHT; repeat for several sizes.")
@click.option("--format", "formats", multiple=True, default=("jpeg",), show_default=True,
              type=click.Choice(["jpeg", "png", "webp"]), help="Repeat for several formats.")
@click.option("--seed", default=1, show_default=True, type=click.IntRange(min=0),
              help="The same seed writes byte-identical files.")
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False),
              help="TOML settings file (also IMGPROC_CONFIG): the object store, for s3://.")
def photos(out: str, count: int, sizes: list[tuple[int, int]], formats: tuple[str, ...],
           seed: int, config: Path | None) -> None:
    """Write COUNT synthetic photos, cycling through every (size, format) pair."""
    from imgproc.adapters.photos import make_photos

    try:
        if out.startswith(S3_SCHEME):
            with tempfile.TemporaryDirectory(prefix="imgproc-photos-") as temp:
                paths = make_photos(Path(temp), count, sizes, formats, seed)
                written = upload(paths, out, config)
        else:
            paths = make_photos(Path(out), count, sizes, formats, seed)
            written = [(str(path), path.stat().st_size) for path in paths]
    except (ImgprocError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    for name, size in written:
        click.echo(f"{name}  {size:,} bytes")
    click.echo(f"wrote {len(written)} photo(s) to {out} (seed {seed})")


def upload(paths: list[Path], place: str, config: Path | None) -> list[tuple[str, int]]:
    """Put each photo under ``place`` (``s3://bucket/prefix``); the same seed rewrites the
    same objects (their owner is the photo set, not a job)."""
    from imgproc.adapters.storage.router import s3_storage
    from imgproc.options import settings_from_flags

    storage = s3_storage(".", ".", settings_from_flags(config).storage)
    written = []
    try:
        for path in paths:
            stored = storage.output(f"{place.rstrip('/')}/{path.name}")
            data = path.read_bytes()
            try:
                stored.store.write(stored.key, data, PHOTOS_OWNER)
            except StorageError as exc:
                raise ImgprocError(f"cannot write {stored.url}: {exc.reason}") from exc
            written.append((stored.url, len(data)))
    finally:
        storage.close()
    return written

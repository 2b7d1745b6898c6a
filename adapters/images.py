"""Running a job's image operations on real pixels, with Pillow.

The seed only slept; our workers decode, transform and encode real images, read from and
written to wherever :class:`~imgproc.adapters.storage.router.Storage` says a job's names
lie (a local directory, an S3 bucket). This adapter is the one place that touches pixels,
so it also holds the defences a worker fed by a queue needs: an input over
``max_input_bytes`` is refused before it is downloaded, the pixel count of the input and
of every op's result is checked from the header before anything is decoded, the output is
encoded whole before it is stored (each store then writes it whole or not at all, as the
job's own), and every failure (missing, not an image, truncated, too large, unwritable,
taken by another job, outside its root or its places) becomes one :class:`ImageJobError`
naming the job's names as the job gave them, never the configured roots or credentials,
so a worker fails the job and goes on.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from PIL import Image, ImageFilter, ImageOps

from imgproc.adapters.storage.local import reason
from imgproc.adapters.storage.router import Storage, Stored
from imgproc.core.errors import ConfigurationError, ImgprocError
from imgproc.core.image_ops import (
    Blur,
    Convert,
    Crop,
    Grayscale,
    ImageOp,
    Resize,
    Rotate,
    Sharpen,
    Size,
    Thumbnail,
    output_size,
    thumbnail_size,
)
from imgproc.core.storage import LocationError, ObjectMissing, ObjectTaken, StorageError
from imgproc.core.worker import JobOutput

READABLE = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP")
"""Decoders we allow: the common photo formats, not every format Pillow knows."""
FORMATS_BY_SUFFIX = MappingProxyType(
    {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".webp": "webp"}
)
DEFAULT_QUALITY = Convert.model_fields["quality"].default
RESAMPLE = Image.Resampling.LANCZOS
_DECODE_ERRORS = (SyntaxError, ValueError, EOFError, struct.error)
"""What Pillow's decoders raise, besides OSError, on a corrupt file."""


class ImageJobError(ImgprocError):
    """An image job that cannot be done; ``op_index`` names the failing op, if one did."""

    def __init__(self, input: str, reason: str, op_index: int | None = None) -> None:
        self.input = input
        self.reason = reason
        self.op_index = op_index
        where = f" (op {op_index})" if op_index is not None else ""
        super().__init__(f"image job on '{input}'{where}: {reason}")


class ImageProcessor:
    """Applies image operations to jobs' inputs, writing their outputs, wherever
    :class:`Storage` says they are."""

    def __init__(self, storage: Storage, max_pixels: int = 50_000_000,
                 max_input_bytes: int = 256 * 2**20) -> None:
        if max_pixels <= 0:
            raise ConfigurationError(f"max_pixels must be > 0, got {max_pixels}")
        self.storage = storage
        self.max_pixels = max_pixels
        self.max_input_bytes = max_input_bytes

    @classmethod
    def local(cls, input_root: Path, output_root: Path,
                       max_pixels: int = 50_000_000) -> ImageProcessor:
        """Inputs and outputs under two local directories, as the traces name them."""
        return cls(Storage(input_root, output_root), max_pixels)

    def process(self, ops: Sequence[ImageOp], input: str, output: str,
                job_id: str) -> JobOutput:
        """Do ``ops`` on ``input`` and write ``output`` as job ``job_id``.

        ``job_id`` makes the output this job's: another job may not write it
        again, the same job redelivered may.
        """
        try:
            source = self.storage.input(input)
            target = self.storage.output(output)
        except LocationError as exc:
            raise ImageJobError(input, str(exc)) from exc
        fmt, quality = output_format(ops, target.key, input)
        image = self._load(self._read(source, input), ops, input)
        for index, op in enumerate(ops):
            image = apply_op(image, op, index, input, self.max_pixels)
        data, image = encode(image, fmt, quality, output, input)
        try:
            target.store.write(target.key, data, job_id)
        except ObjectTaken as exc:
            raise ImageJobError(input, f"output '{output}' was already written by job "
                                       f"'{exc.owner}'") from exc
        except StorageError as exc:
            raise ImageJobError(input, f"cannot write output '{output}': {exc.reason}") from exc
        return JobOutput(target.url, image.width, image.height, fmt, len(data))

    def _read(self, source: Stored, input: str) -> bytes:
        try:
            return source.store.read(source.key, self.max_input_bytes)
        except ObjectMissing as exc:
            raise ImageJobError(input, f"input {exc.reason}") from exc
        except StorageError as exc:
            raise ImageJobError(input, f"input {exc}") from exc

    def _load(self, data: bytes, ops: Sequence[ImageOp], input: str) -> Image.Image:
        """Decode ``data`` upright, once the header shows every op's result fits the limit."""
        try:
            with Image.open(io.BytesIO(data), formats=READABLE) as opened:
                width, height = opened.size
                if width * height > self.max_pixels:
                    raise ImageJobError(input, f"too many pixels: {width}x{height} = "
                                               f"{width * height:,} > limit {self.max_pixels:,}")
                check_pixels(ops, opened.size, self.max_pixels, input)
                if opened.format == "JPEG" and ops and isinstance(ops[0], Thumbnail):
                    opened.draft(None, thumbnail_size(opened.size, ops[0].size))
                opened.load()
                return upright(opened)
        except Image.UnidentifiedImageError as exc:
            readable = ", ".join(READABLE)
            raise ImageJobError(input, f"not an image in a readable format ({readable})") from exc
        except Image.DecompressionBombError as exc:
            raise ImageJobError(input, f"too many pixels (Pillow's bomb guard): {exc}") from exc
        except (OSError, *_DECODE_ERRORS) as exc:
            raise ImageJobError(input, f"truncated or corrupt image: {exc}") from exc


def output_format(ops: Sequence[ImageOp], key: str, input: str) -> tuple[str, int]:
    """The last ``convert`` op's format and quality, else the format the extension names."""
    converts = [op for op in ops if isinstance(op, Convert)]
    if converts:
        return converts[-1].format, converts[-1].quality
    name = PurePosixPath(key).name
    fmt = FORMATS_BY_SUFFIX.get(PurePosixPath(key).suffix.lower())
    if fmt is None:
        known = ", ".join(FORMATS_BY_SUFFIX)
        raise ImageJobError(input, f"cannot tell the output format from '{name}': "
                                   f"add a convert op or use one of {known}")
    return fmt, DEFAULT_QUALITY


def upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says, in a mode every op accepts."""
    ImageOps.exif_transpose(image, in_place=True)
    if image.mode in ("L", "LA", "RGB", "RGBA"):
        return image
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def check_pixels(ops: Sequence[ImageOp], size: Size, max_pixels: int, input: str,
                 first_index: int = 0) -> None:
    """Refuse the first op whose result would pass ``max_pixels``, before Pillow allocates it.

    Called once with the header's size for the whole chain, so that a job bound to
    fail is refused before decoding, then before each op with the image's real size
    (JPEG draft decoding may round a thumbnail differently).
    """
    for index, op in enumerate(ops, start=first_index):
        width, height = size = output_size(op, size)
        if width * height > max_pixels:
            raise ImageJobError(input, f"{op.op} would make a {width}x{height} image "
                                       f"({width * height:,} pixels), over the limit of "
                                       f"{max_pixels:,}", index)


def apply_op(image: Image.Image, op: ImageOp, index: int, input: str,
             max_pixels: int) -> Image.Image:
    """One operation; one that would pass the pixel limit, or a crop that does not fit,
    names its index."""
    check_pixels([op], image.size, max_pixels, input, index)
    match op:
        case Thumbnail(size=size):
            target = thumbnail_size(image.size, size)
            return image if target == image.size else image.resize(target, RESAMPLE)
        case Resize(width=width, height=height):
            return image.resize((width, height), RESAMPLE)
        case Crop(left=left, top=top, width=width, height=height):
            if left + width > image.width or top + height > image.height:
                raise ImageJobError(input, f"crop box {width}x{height} at ({left}, {top}) lies "
                                           f"outside the {image.width}x{image.height} image", index)
            return image.crop((left, top, left + width, top + height))
        case Rotate(degrees=degrees):
            return image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True)
        case Grayscale():
            return image.convert("LA" if "A" in image.getbands() else "L")
        case Blur(radius=radius):
            return image.filter(ImageFilter.GaussianBlur(radius))
        case Sharpen():
            return image.filter(ImageFilter.SHARPEN)
        case Convert():
            return image
    raise ImageJobError(input, f"unsupported operation {op!r}", index)


def encodable(image: Image.Image, fmt: str) -> Image.Image:
    """JPEG has no alpha: flatten onto white; other formats take our modes as they are."""
    if fmt != "jpeg" or image.mode in ("L", "RGB"):
        return image
    rgba = image.convert("RGBA")
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat


def encode(image: Image.Image, fmt: str, quality: int, output: str,
           input: str) -> tuple[bytes, Image.Image]:
    """The image's bytes in ``fmt``, and the image as encoded (JPEG flattened)."""
    image = encodable(image, fmt)
    options = {"quality": quality} if fmt in ("jpeg", "webp") else {}
    if icc := image.info.get("icc_profile"):
        options["icc_profile"] = icc
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=fmt.upper(), **options)
    except (OSError, ValueError) as exc:
        raise ImageJobError(input, f"cannot write output '{output}': {reason(exc)}") from exc
    return buffer.getvalue(), image

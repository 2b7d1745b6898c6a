"""Running a job's image operations on real pixels, with Pillow.

The seed only slept; our workers decode, transform and encode real files. This
adapter is the one place that touches pixels, so it also holds the defences a
worker fed by a queue needs: job paths stay inside their roots, the pixel count
of the input and of every op's result is checked from the header before anything
is decoded, outputs appear whole or not at all (temporary file, then
``os.replace``), an output belongs to the job that first wrote it (a claim under
:data:`CLAIMS_DIR`), and every failure (missing, not an image, truncated, too
large, unwritable) becomes one :class:`ImageJobError` naming the job's paths as
the job gave them, never the configured roots, so a worker fails the job and
goes on. The output is atomic on replace, not fsynced: a power cut may lose it,
never half-write it.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from types import MappingProxyType

from PIL import Image, ImageFilter, ImageOps

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

READABLE = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP")
"""Decoders we allow: the common photo formats, not every format Pillow knows."""
FORMATS_BY_SUFFIX = MappingProxyType(
    {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".webp": "webp"}
)
DEFAULT_QUALITY = Convert.model_fields["quality"].default
RESAMPLE = Image.Resampling.LANCZOS
CLAIMS_DIR = ".imgproc-claims"
"""Under the output root: one file per written output, holding the id of the job that wrote it."""
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


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    """What was written for one job."""

    path: Path
    width: int
    height: int
    format: str
    bytes_written: int


class ImageProcessor:
    """Applies image operations to files under ``input_root``, writing under ``output_root``."""

    def __init__(self, input_root: Path, output_root: Path, max_pixels: int = 50_000_000) -> None:
        if max_pixels <= 0:
            raise ConfigurationError(f"max_pixels must be > 0, got {max_pixels}")
        self.input_root = Path(input_root).resolve()
        self.output_root = Path(output_root).resolve()
        self.claims = self.output_root / CLAIMS_DIR
        self.max_pixels = max_pixels

    def process(self, ops: Sequence[ImageOp], input: str, output: str,
                job_id: str) -> ProcessedImage:
        """Do ``ops`` on ``input`` and write ``output`` as job ``job_id``.

        ``job_id`` makes the output this job's: another job may not write it
        again, the same job redelivered may.
        """
        source = resolve_inside(self.input_root, input, input, "input")
        target = resolve_inside(self.output_root, output, input, "output")
        if target.is_relative_to(self.claims):
            raise ImageJobError(input, f"output path '{output}' is reserved for imgproc")
        fmt, quality = output_format(ops, target, input)
        image = self._load(source, ops, input)
        for index, op in enumerate(ops):
            image = apply_op(image, op, index, input, self.max_pixels)
        return self._write(image, target, (fmt, quality), job_id, (input, output))

    def _load(self, source: Path, ops: Sequence[ImageOp], input: str) -> Image.Image:
        """Decode ``source`` upright, once the header shows every op's result fits the limit."""
        if not source.is_file():
            raise ImageJobError(input, "input is not a regular file" if source.exists()
                                else "input file not found")
        try:
            with Image.open(source, formats=READABLE) as opened:
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
        except OSError as exc:
            if not exc.strerror:  # Pillow's own decoding errors carry no errno
                raise ImageJobError(input, f"truncated or corrupt image: {exc}") from exc
            raise ImageJobError(input, f"input cannot be read: {exc.strerror}") from exc
        except _DECODE_ERRORS as exc:
            raise ImageJobError(input, f"truncated or corrupt image: {exc}") from exc

    def _write(self, image: Image.Image, target: Path, encoding: tuple[str, int], job_id: str,
               paths: tuple[str, str]) -> ProcessedImage:
        """Claim ``target`` for ``job_id``, then write it; a claim made for a failed write is
        taken back, so that a claim names only a job that wrote."""
        input, output = paths
        relative = target.relative_to(self.output_root).as_posix()
        claim_path = self.claims / hashlib.sha256(relative.encode()).hexdigest()
        try:
            owner = claim(claim_path, job_id)
        except OSError as exc:
            raise unwritable(paths, exc) from exc
        if owner is not None and owner != job_id:
            raise ImageJobError(input, f"output '{output}' was already written by job '{owner}'")
        try:
            return write_atomically(image, target, *encoding)
        except (OSError, ValueError) as exc:
            if owner is None:
                claim_path.unlink(missing_ok=True)
            raise unwritable(paths, exc) from exc


def unwritable(paths: tuple[str, str], exc: Exception) -> ImageJobError:
    input, output = paths
    return ImageJobError(input, f"cannot write output '{output}': {reason(exc)}")


def claim(path: Path, job_id: str) -> str | None:
    """Record ``job_id`` in ``path`` unless a job already is: None if this call made the
    claim, else the job id found there.

    The claim is written whole in a temporary file, then hard-linked into place: the
    link fails if the claim exists (as an ``O_EXCL`` create would), and a worker
    killed half-way never leaves an empty claim that its redelivered job could not
    match.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(job_id)
        os.link(temp, path)
        return None
    except FileExistsError:
        return path.read_text(encoding="utf-8")
    finally:
        os.unlink(temp)


def reason(exc: BaseException) -> str:
    """What went wrong, without the absolute path a system error's text carries."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def resolve_inside(root: Path, relative: str, input: str, role: str) -> Path:
    """``root / relative``, refusing absolute paths, ``..`` and symlinks that lead outside.

    Messages name ``relative`` only: the configured roots are the operator's business.
    """
    pure = PurePath(relative)
    if not relative or pure.is_absolute() or relative.startswith(("/", "\\")):
        raise ImageJobError(input, f"{role} path '{relative}' must be relative to its root")
    if ".." in pure.parts:
        raise ImageJobError(input, f"{role} path '{relative}' must not contain '..'")
    try:
        resolved = (root / pure).resolve()
    except RuntimeError as exc:  # Python 3.11's symlink loop, whose text holds the absolute path
        raise ImageJobError(input, f"{role} path '{relative}' cannot be resolved: "
                                   "a symbolic link loops") from exc
    except (OSError, ValueError) as exc:
        raise ImageJobError(input, f"{role} path '{relative}' cannot be resolved: "
                                   f"{reason(exc)}") from exc
    if resolved == root or not resolved.is_relative_to(root):
        raise ImageJobError(input, f"{role} path '{relative}' leads outside its root")
    return resolved


def output_format(ops: Sequence[ImageOp], target: Path, input: str) -> tuple[str, int]:
    """The last ``convert`` op's format and quality, else the format the extension names."""
    converts = [op for op in ops if isinstance(op, Convert)]
    if converts:
        return converts[-1].format, converts[-1].quality
    fmt = FORMATS_BY_SUFFIX.get(target.suffix.lower())
    if fmt is None:
        known = ", ".join(FORMATS_BY_SUFFIX)
        raise ImageJobError(input, f"cannot tell the output format from '{target.name}': "
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


def write_atomically(image: Image.Image, target: Path, fmt: str, quality: int) -> ProcessedImage:
    """Encode into a temporary file beside ``target``, then rename it into place."""
    image = encodable(image, fmt)
    options = {"quality": quality} if fmt in ("jpeg", "webp") else {}
    if icc := image.info.get("icc_profile"):
        options["icc_profile"] = icc
    temp: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        with os.fdopen(fd, "wb") as stream:
            image.save(stream, format=fmt.upper(), **options)
        os.replace(temp, target)
        temp = None
        return ProcessedImage(target, image.width, image.height, fmt, target.stat().st_size)
    finally:
        if temp is not None:
            Path(temp).unlink(missing_ok=True)

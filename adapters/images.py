"""Running a job's image operations on real pixels, with Pillow.

The seed only slept; our workers decode, transform and encode real files. This
adapter is the one place that touches pixels, so it also holds the defences a
worker fed by a queue needs: job paths stay inside their roots, the pixel count
is checked from the header before anything is decoded, outputs appear whole or
not at all (temporary file, then ``os.replace``), and every failure of the
input (missing, not an image, truncated, too large) becomes one
:class:`ImageJobError` naming the job's input, so a worker fails the job and
goes on. The output is atomic on replace, not fsynced: a power cut may lose it,
never half-write it.
"""

from __future__ import annotations

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
    Thumbnail,
)

READABLE = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP")
"""Decoders we allow: the common photo formats, not every format Pillow knows."""
FORMATS_BY_SUFFIX = MappingProxyType(
    {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".webp": "webp"}
)
DEFAULT_QUALITY = Convert.model_fields["quality"].default
RESAMPLE = Image.Resampling.LANCZOS
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error)


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
        self.max_pixels = max_pixels

    def process(self, ops: Sequence[ImageOp], input: str, output: str) -> ProcessedImage:
        source = resolve_inside(self.input_root, input, input, "input")
        target = resolve_inside(self.output_root, output, input, "output")
        fmt, quality = output_format(ops, target, input)
        image = self._load(source, ops, input)
        for index, op in enumerate(ops):
            image = apply_op(image, op, index, input, self.max_pixels)
        return write_atomically(image, target, fmt, quality, input)

    def _load(self, source: Path, ops: Sequence[ImageOp], input: str) -> Image.Image:
        try:
            with Image.open(source, formats=READABLE) as opened:
                width, height = opened.size
                if width * height > self.max_pixels:
                    raise ImageJobError(input, f"too many pixels: {width}x{height} = "
                                               f"{width * height:,} > limit {self.max_pixels:,}")
                if opened.format == "JPEG" and ops and isinstance(ops[0], Thumbnail):
                    opened.draft(None, thumbnail_size(opened.size, ops[0].size))
                opened.load()
                return upright(opened)
        except FileNotFoundError as exc:
            raise ImageJobError(input, "input file not found") from exc
        except IsADirectoryError as exc:
            raise ImageJobError(input, "input is a directory, not a file") from exc
        except PermissionError as exc:
            raise ImageJobError(input, "input file is not readable (permission denied)") from exc
        except Image.UnidentifiedImageError as exc:
            readable = ", ".join(READABLE)
            raise ImageJobError(input, f"not an image in a readable format ({readable})") from exc
        except Image.DecompressionBombError as exc:
            raise ImageJobError(input, f"too many pixels (Pillow's bomb guard): {exc}") from exc
        except _DECODE_ERRORS as exc:
            raise ImageJobError(input, f"truncated or corrupt image: {exc}") from exc


def resolve_inside(root: Path, relative: str, input: str, role: str) -> Path:
    """``root / relative``, refusing absolute paths, ``..`` and symlinks that lead outside."""
    pure = PurePath(relative)
    if not relative or pure.is_absolute() or relative.startswith(("/", "\\")):
        raise ImageJobError(input, f"{role} path '{relative}' must be relative to its root")
    if ".." in pure.parts:
        raise ImageJobError(input, f"{role} path '{relative}' must not contain '..'")
    try:
        resolved = (root / pure).resolve()
    except (OSError, ValueError) as exc:
        raise ImageJobError(input, f"{role} path '{relative}' cannot be resolved: {exc}") from exc
    if resolved == root or not resolved.is_relative_to(root):
        raise ImageJobError(input, f"{role} path '{relative}' leads outside its root {root}")
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


def thumbnail_size(size: tuple[int, int], longest: int) -> tuple[int, int]:
    """``size`` scaled so that its longest edge is at most ``longest`` (never enlarged)."""
    width, height = size
    scale = min(1.0, longest / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says, in a mode every op accepts."""
    ImageOps.exif_transpose(image, in_place=True)
    if image.mode in ("L", "LA", "RGB", "RGBA"):
        return image
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def apply_op(image: Image.Image, op: ImageOp, index: int, input: str,
             max_pixels: int) -> Image.Image:
    """One operation; a crop that does not fit, or a resize past the limit, names its index."""
    match op:
        case Thumbnail(size=size):
            target = thumbnail_size(image.size, size)
            return image if target == image.size else image.resize(target, RESAMPLE)
        case Resize(width=width, height=height):
            if width * height > max_pixels:
                raise ImageJobError(input, f"resize to {width}x{height} makes too many pixels "
                                           f"(limit {max_pixels:,})", index)
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


def write_atomically(image: Image.Image, target: Path, fmt: str, quality: int,
                     input: str) -> ProcessedImage:
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
    except (OSError, ValueError) as exc:
        raise ImageJobError(input, f"cannot write output {target}: {exc}") from exc
    finally:
        if temp is not None:
            Path(temp).unlink(missing_ok=True)

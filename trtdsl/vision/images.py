"""Reading and writing images with Pillow. Reading trusts nothing: regular files only
(``trtdsl.files``), a fixed list of raster formats, and the pixel count checked against
Pillow's decompression-bomb limit and the memory budget before a pixel is decoded.

Every problem is one error of the caller's class naming the file. The formats are the
camera and web ones; in particular no EPS or PDF, whose Pillow plugins run Ghostscript.
Writing is atomic, through ``trtdsl.files``.
"""

from __future__ import annotations

import os
import struct
import warnings
from typing import TYPE_CHECKING

from trtdsl.errors import FileError, TrtdslError
from trtdsl.files import open_input, require_memory, write_file

if TYPE_CHECKING:
    from PIL import Image

IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF", "PPM")
"""The formats photos are read in (Pillow's names; PPM covers .pbm, .pgm and .ppm)."""

DECODE_BYTES_PER_PIXEL = 16
"""Memory one pixel costs from file to array, a lower bound: Pillow's decoded image (up to 4
bytes), its conversion to RGB (4: Pillow pads RGB to 32 bits), the NumPy copy (3) and the
bytes that copy is made from (3), rounded up."""

_PILLOW_ERRORS: tuple[type[Exception], ...] = (
    OSError,  # UnidentifiedImageError, truncated data, decoder errors
    ValueError,
    SyntaxError,  # raised by some plugins for a malformed header
    EOFError,
    struct.error,
    IndexError,
    ZeroDivisionError,
)
"""What Pillow raises for a damaged or forged file (its fuzzing history): caught only around
Pillow's own calls."""


def decode_image(
    path: str | os.PathLike[str],
    mode: str,
    error: type[TrtdslError],
    label: str | None = None,
) -> Image.Image:
    """The image file ``path`` decoded and converted to ``mode`` (``"RGB"`` or ``"L"``).

    The file is opened as a regular file (never blocking on a FIFO) and only its header is
    read before the pixel count is checked: more than ``PIL.Image.MAX_IMAGE_PIXELS`` (Pillow's
    decompression-bomb limit, 89.5 megapixels unless changed) is refused, and so is an image
    whose decoding would not fit in the memory budget.

    Args:
        path: the file; label: how messages name it (default: the path).
        mode: the Pillow mode of the result.
        error: the error class raised for a file that is not a readable image of a sane size.
    Returns:
        the converted image, fully loaded (the file is closed).
    Raises:
        FileError: missing or not a regular file; ``error`` naming the file: not an image in
        IMAGE_FORMATS, damaged, or too many pixels; ResourceLimitError: too large for memory.
    """
    from PIL import Image

    where = label if label is not None else os.fspath(path)
    with open_input(path, label) as stream:
        try:
            with warnings.catch_warnings():
                # Pillow only warns between MAX_IMAGE_PIXELS and twice that (and the CLI
                # silences RuntimeWarnings): make the warning the refusal it should be.
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(stream, formats=IMAGE_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise error(_bomb(where, e)) from None
        except _PILLOW_ERRORS as e:
            raise error(f"{where}: not an image Pillow can read ({_first_line(e)})") from None
        with image:
            width, height = image.size
            if width < 1 or height < 1:
                raise error(f"{where}: the image has no pixels ({width}x{height})")
            require_memory(
                width * height * DECODE_BYTES_PER_PIXEL,
                f"decoding {where} ({width}x{height} pixels)",
            )
            try:
                converted = image.convert(mode)  # decodes the pixels
            except Image.DecompressionBombError as e:
                raise error(_bomb(where, e)) from None
            except _PILLOW_ERRORS as e:
                raise error(f"{where}: not an image Pillow can read ({_first_line(e)})") from None
    return converted


def write_png(path: str | os.PathLike[str], image: Image.Image, option: str) -> None:
    """Write ``image`` as a PNG file atomically (``trtdsl.files.write_file``: whole or not at
    all, never over a file this command read); ``option`` names the path in errors."""
    try:
        write_file(path, lambda stream: image.save(stream, format="PNG"), option)
    except OSError as e:
        raise FileError(f"{option} {os.fspath(path)}: cannot write it: {e.strerror or e}") from None


def _bomb(where: str, e: BaseException) -> str:
    """The message for Pillow's decompression-bomb refusal (its first clause kept)."""
    reason = _first_line(e).split(", could be")[0]
    return f"{where}: refused as a possible decompression bomb ({reason})"


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__

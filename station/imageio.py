"""Reading photos with clear errors: a station operator sees one line, never a traceback."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MIN_SIDE = 64  # smaller than this holds no person worth judging
MAX_PIXELS = 50_000_000  # ~ an 8K photo; larger is refused before decoding so memory stays bounded
# Pillow's own bomb guard would fire inside Image.open with no size in its message; ours reads the header first
Image.MAX_IMAGE_PIXELS = None


class ImageError(ValueError):
    """A file that is not a usable photo; the message names the file and why."""


def read_image(path: str | Path) -> np.ndarray:
    """Decode a photo to a BGR uint8 array, honouring the EXIF orientation that phone cameras write."""
    path = Path(path)
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not an image")
    return _decode(path, str(path))


def decode_image(data: bytes, name: str, formats: tuple[str, ...] = ("JPEG", "PNG")) -> np.ndarray:
    """An uploaded photo, checked like `read_image` (the size from the header, before any pixel is decoded) and
    only in the given formats."""
    return _decode(io.BytesIO(data), name, formats)


def _decode(source, name: str, formats: tuple[str, ...] | None = None) -> np.ndarray:
    try:
        with Image.open(source, formats=formats) as im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise ImageError(f"{name}: image too large ({w}x{h}, {w * h / 1e6:.0f} Mpx; at most "
                                 f"{MAX_PIXELS / 1e6:.0f} Mpx)")
            if min(w, h) < MIN_SIDE:
                raise ImageError(f"{name}: image too small ({w}x{h}; at least {MIN_SIDE} px a side)")
            im.load()  # decodes everything: a truncated JPEG raises here instead of coming back half grey
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                im = _flatten_alpha(im, name)
            rgb = np.asarray(im.convert("RGB"))
    except ImageError:
        raise
    except UnidentifiedImageError:
        kinds = f" ({' or '.join(formats)})" if formats else ""
        raise ImageError(f"{name}: not an image{kinds} (unknown or corrupt format)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{name}: corrupt or truncated image ({exc})") from None
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _flatten_alpha(im: Image.Image, name: str) -> Image.Image:
    """What the photo shows: transparent pixels are not there, so they become plain grey, never their hidden colour."""
    rgba = im.convert("RGBA")
    alpha = rgba.getchannel("A")
    if alpha.getextrema()[1] == 0:
        raise ImageError(f"{name}: the image is fully transparent (nothing to judge)")
    background = Image.new("RGBA", rgba.size, (114, 114, 114, 255))
    return Image.alpha_composite(background, rgba)


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())

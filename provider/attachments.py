"""Files given on the command line as content blocks: ``--image PATH`` and ``--file PATH``.

The media type comes from the file's first bytes, not its name: a ``.png`` that is really a
JPEG is sent as ``image/jpeg``, which the API checks. Any problem (a missing or unreadable
file, a kind the API does not take) is a one-line ``ProviderError`` naming the option and the
path.
"""

from __future__ import annotations

from pathlib import Path

from .content import Base64Source, DocumentBlock, ImageBlock, PlainTextSource
from .errors import ProviderError

__all__ = ["file_block", "image_block", "image_type"]

# The image types the Messages API accepts, by their signatures.
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def image_type(data: bytes) -> str | None:
    """``image/jpeg``, ``image/png``, ``image/gif`` or ``image/webp``; None for anything else."""
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _read(option: str, path: str) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ProviderError(f"{option} {path}: {e.strerror or e}") from None
    if not data:
        raise ProviderError(f"{option} {path}: the file is empty")
    return data


def image_block(path: str) -> ImageBlock:
    """The ``--image`` file as an image block (JPEG, PNG, GIF or WebP)."""
    data = _read("--image", path)
    media_type = image_type(data)
    if media_type is None:
        raise ProviderError(f"--image {path}: not a JPEG, PNG, GIF or WebP image")
    return ImageBlock(Base64Source.from_bytes(media_type, data))


def file_block(path: str) -> DocumentBlock:
    """The ``--file`` file as a document block: a PDF, or UTF-8 text; titled with its name."""
    data = _read("--file", path)
    title = Path(path).name
    if data.startswith(b"%PDF-"):
        return DocumentBlock(Base64Source.from_bytes("application/pdf", data), title=title)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ProviderError(f"--file {path}: not a PDF or UTF-8 text") from None
    return DocumentBlock(PlainTextSource(text.removeprefix("\ufeff")), title=title)

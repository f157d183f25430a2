"""Messages and their content blocks, as the Messages API spells them (no I/O).

Every block is a frozen msgspec Struct tagged by its ``type``, so ``msgspec.json.encode`` of a
``Message`` is exactly the API's JSON for it: optional fields default to ``UNSET`` and are left
out, constants are tags (a constant field with a default would vanish from the JSON).

Blocks the API may send back that this module does not name (``server_tool_use``,
``web_search_tool_result``, ``compaction``, kinds not invented yet) are kept as ``RawBlock``: the
block's JSON object as it arrived, which encodes back to the same JSON, because the API requires
such blocks back unchanged when the conversation continues.

Decoding is one mechanism for every level: msgspec decodes a content list into plain objects,
and ``__post_init__`` turns each into its block by ``type`` (as the wire events are chosen by
their event name), so an unknown kind becomes a ``RawBlock`` instead of failing the whole
history: ``msgspec.json.decode(data, type=list[Message])`` loads a saved conversation.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from .checks import need_str
from .errors import ProviderError

__all__ = [
    "Base64Source",
    "Block",
    "CacheControl",
    "Citations",
    "ContentSource",
    "DocumentBlock",
    "FileSource",
    "ImageBlock",
    "Message",
    "PlainTextSource",
    "RawBlock",
    "RedactedThinkingBlock",
    "TextBlock",
    "ThinkingBlock",
    "ToolResultBlock",
    "ToolUseBlock",
    "URLSource",
    "block_from_json",
]

Role = Literal["user", "assistant"]
_ROLES = ("user", "assistant")
_TTLS = ("5m", "1h")


class CacheControl(
    msgspec.Struct, frozen=True, repr_omit_defaults=True, tag_field="type", tag="ephemeral"
):
    """A prompt-cache breakpoint: ``{"type": "ephemeral"}``, with ``"ttl"`` when given."""

    ttl: Literal["5m", "1h"] | UnsetType = UNSET

    def __post_init__(self) -> None:
        if self.ttl is not UNSET and self.ttl not in _TTLS:
            raise ProviderError(f"cache_control.ttl must be '5m' or '1h', got {self.ttl!r}")


class Citations(msgspec.Struct, frozen=True, repr_omit_defaults=True):
    """A document's ``citations`` setting: ``{"enabled": true}`` lets the reply cite it."""

    enabled: bool = True


# Sources of images and documents, tagged by their own ``type``.


class Base64Source(
    msgspec.Struct, frozen=True, repr_omit_defaults=True, tag_field="type", tag="base64"
):
    """Inline data, base64-encoded (``data`` is the base64 text; see ``from_bytes``)."""

    media_type: str
    data: str

    def __post_init__(self) -> None:
        need_str("source.media_type", self.media_type)
        need_str("source.data", self.data, hint=" (base64 text; use Base64Source.from_bytes)")

    @classmethod
    def from_bytes(cls, media_type: str, data: bytes) -> Base64Source:
        """The source for raw file bytes (an image, a PDF)."""
        return cls(media_type, base64.b64encode(data).decode("ascii"))


class URLSource(msgspec.Struct, frozen=True, repr_omit_defaults=True, tag_field="type", tag="url"):
    """An image or PDF the API fetches itself."""

    url: str

    def __post_init__(self) -> None:
        need_str("source.url", self.url)


class PlainTextSource(
    msgspec.Struct, frozen=True, repr_omit_defaults=True, tag_field="type", tag="text"
):
    """A plain-text document. ``media_type`` is always sent: the API requires it."""

    data: str
    media_type: str = "text/plain"

    def __post_init__(self) -> None:
        need_str("source.data", self.data, empty_ok=True)


class FileSource(
    msgspec.Struct, frozen=True, repr_omit_defaults=True, tag_field="type", tag="file"
):
    """A file uploaded through the Files API (a beta: add its ``anthropic-beta``)."""

    file_id: str

    def __post_init__(self) -> None:
        need_str("source.file_id", self.file_id)


class ContentSource(
    msgspec.Struct, frozen=True, repr_omit_defaults=True, tag_field="type", tag="content"
):
    """A document given as content blocks (text, images), for custom citation chunks."""

    content: str | BlockList

    def __post_init__(self) -> None:
        _set_content(self, "source.content")


ImageSource = Base64Source | URLSource | FileSource
DocumentSource = Base64Source | URLSource | PlainTextSource | ContentSource | FileSource


# Content blocks. Required fields first (they may be given positionally), options after.


class TextBlock(msgspec.Struct, frozen=True, repr_omit_defaults=True, tag_field="type", tag="text"):
    """Text; in a reply, with the ``citations`` (as the API sent them) that support it."""

    text: str
    citations: list[dict[str, Any]] | UnsetType = UNSET
    cache_control: CacheControl | UnsetType = UNSET

    def __post_init__(self) -> None:
        need_str("text", self.text, empty_ok=True)


class ImageBlock(
    msgspec.Struct, frozen=True, repr_omit_defaults=True, tag_field="type", tag="image"
):
    """An image: ``ImageBlock(Base64Source("image/png", b64))`` or a ``URLSource``."""

    source: ImageSource
    cache_control: CacheControl | UnsetType = UNSET

    def __post_init__(self) -> None:
        _need(self.source, (Base64Source, URLSource, FileSource), "image source")


class DocumentBlock(
    msgspec.Struct, frozen=True, repr_omit_defaults=True, tag_field="type", tag="document"
):
    """A document (PDF, plain text, content blocks); ``citations=Citations()`` to cite it."""

    source: DocumentSource
    title: str | UnsetType = UNSET
    context: str | UnsetType = UNSET
    citations: Citations | UnsetType = UNSET
    cache_control: CacheControl | UnsetType = UNSET

    def __post_init__(self) -> None:
        _need(
            self.source,
            (Base64Source, URLSource, PlainTextSource, ContentSource, FileSource),
            "document source",
        )


class ToolUseBlock(
    msgspec.Struct, frozen=True, repr_omit_defaults=True, tag_field="type", tag="tool_use"
):
    """A call the model made to one of the request's tools. ``caller`` is kept when the API
    sends it (a tool called from code execution), so the turn goes back unchanged."""

    id: str
    name: str
    input: dict[str, Any]
    caller: dict[str, Any] | UnsetType = UNSET
    cache_control: CacheControl | UnsetType = UNSET

    def __post_init__(self) -> None:
        need_str("tool_use.id", self.id)
        need_str("tool_use.name", self.name)
        if not isinstance(self.input, dict):
            raise ProviderError(f"tool_use.input must be a dict, not {type(self.input).__name__}")


class ToolResultBlock(
    msgspec.Struct, frozen=True, repr_omit_defaults=True, tag_field="type", tag="tool_result"
):
    """The result of a tool call, in the user turn that follows it: a string or blocks."""

    tool_use_id: str
    content: str | BlockList | UnsetType = UNSET
    is_error: bool | UnsetType = UNSET
    cache_control: CacheControl | UnsetType = UNSET

    def __post_init__(self) -> None:
        need_str("tool_result.tool_use_id", self.tool_use_id)
        if self.content is not UNSET:
            _set_content(self, "tool_result.content", empty_ok=True)


class ThinkingBlock(
    msgspec.Struct, frozen=True, repr_omit_defaults=True, tag_field="type", tag="thinking"
):
    """Extended thinking with its ``signature``: send it back unchanged with tool results."""

    thinking: str
    signature: str

    def __post_init__(self) -> None:
        need_str("thinking", self.thinking, empty_ok=True)
        need_str("signature", self.signature, empty_ok=True)


class RedactedThinkingBlock(
    msgspec.Struct, frozen=True, repr_omit_defaults=True, tag_field="type", tag="redacted_thinking"
):
    """Thinking the API encrypted (``data``): send it back unchanged."""

    data: str

    def __post_init__(self) -> None:
        need_str("redacted_thinking.data", self.data)


class RawBlock(dict[str, Any]):
    """Any other block, kept as the JSON object the API sent; it encodes back to that JSON.

    A ``dict`` (read-only), because msgspec writes a dict as itself with no hook, so
    ``msgspec.json.encode`` of a message holding one is still exactly the API's JSON.
    """

    __slots__ = ()

    def __init__(self, block: dict[str, Any]) -> None:
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise ProviderError(f"A RawBlock needs a JSON object with a string 'type': {block!r}")
        super().__init__(block)

    @property
    def type(self) -> str:
        """The block's kind (``server_tool_use``, ``web_search_tool_result`` …)."""
        kind: str = self["type"]
        return kind

    def __repr__(self) -> str:
        return f"RawBlock({dict.__repr__(self)})"

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("RawBlock is read-only: build a new one from a dict")

    __setitem__ = __delitem__ = _read_only
    clear = pop = popitem = setdefault = update = __ior__ = _read_only


Block = (
    TextBlock
    | ImageBlock
    | DocumentBlock
    | ToolUseBlock
    | ToolResultBlock
    | ThinkingBlock
    | RedactedThinkingBlock
    | RawBlock
)
_KINDS: dict[str, type[Any]] = {
    str(cls.__struct_config__.tag): cls
    for cls in (
        TextBlock,
        ImageBlock,
        DocumentBlock,
        ToolUseBlock,
        ToolResultBlock,
        ThinkingBlock,
        RedactedThinkingBlock,
    )
}
_BLOCK_TYPES: tuple[type[Any], ...] = (*_KINDS.values(), RawBlock)

if TYPE_CHECKING:
    BlockList = Sequence[Block]
else:
    # msgspec cannot decode a union holding a custom type (RawBlock), so it decodes a content
    # list as plain objects and __post_init__ picks each block by its ``type``.
    BlockList = Sequence[Any]


def block_from_json(value: Any, where: str = "block") -> Block:
    """The block for one decoded JSON object, chosen by its ``type``; unknown kinds become a
    ``RawBlock``. A block object is returned as it is."""
    if isinstance(value, _BLOCK_TYPES):
        known: Block = value
        return known
    if not isinstance(value, dict):
        raise ProviderError(f"{where} is a {type(value).__name__}, not a content block")
    kind = value.get("type")
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return RawBlock(value)
    try:
        block: Block = msgspec.convert(value, cls)
    except msgspec.ValidationError as e:
        raise ProviderError(f"{where} is not a valid {kind} block: {e}", e) from e
    return block


def _set_content(owner: Any, where: str, *, empty_ok: bool = False) -> None:
    """Check a ``content`` field and store it as a tuple of blocks (frozen, comparable)."""
    content = owner.content
    if isinstance(content, str):
        if not content and not empty_ok:
            raise ProviderError(f"{where} must not be empty")
        return
    if isinstance(content, (bytes, dict)) or not isinstance(content, Sequence):
        raise ProviderError(
            f"{where} must be a string or a sequence of content blocks, "
            f"not {type(content).__name__}"
        )
    if not content and not empty_ok:
        raise ProviderError(f"{where} must not be an empty list")
    blocks = tuple(block_from_json(item, f"{where}[{i}]") for i, item in enumerate(content))
    msgspec.structs.force_setattr(owner, "content", blocks)


def _need(value: Any, types: tuple[type[Any], ...], what: str) -> None:
    if not isinstance(value, types):
        names = ", ".join(t.__name__ for t in types)
        raise ProviderError(f"{what} must be one of {names}, not {type(value).__name__}")


class Message(msgspec.Struct, frozen=True):
    """One turn of the conversation: ``Message("user", "Hi")`` or a sequence of blocks."""

    role: Role
    content: str | BlockList

    def __post_init__(self) -> None:
        if self.role not in _ROLES:
            raise ProviderError(
                f"Invalid message role {self.role!r}: expected 'user' or 'assistant'"
            )
        if isinstance(self.content, str) and not self.content:
            raise ProviderError(f"Message content must be a non-empty string (role {self.role!r})")
        _set_content(self, f"Message content (role {self.role!r})")

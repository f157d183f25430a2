"""Where and how requests go: base-URL rules and headers (no I/O; the body is request.py's)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

import httpx

from .errors import ProviderError, secret_values
from .types import ProviderConfig

__all__ = [
    "ANTHROPIC_VERSION",
    "DEFAULT_BASE_URL",
    "check_secure",
    "messages_url",
    "request_headers",
    "secrets_of",
]

DEFAULT_BASE_URL = "https://api.anthropic.com"
# The version the API documents and the recorded streams used; newer ones are opt-in since a
# newer version can change request rules.
ANTHROPIC_VERSION = "2023-06-01"


def messages_url(base_url: str) -> str:
    """``{base_url}/v1/messages``: a path prefix is kept, a trailing slash does not double, and a
    base URL that already ends in ``/v1`` does not become ``…/v1/v1/messages``."""
    try:
        url = httpx.URL(base_url.strip())
    except (httpx.InvalidURL, TypeError) as e:
        raise ProviderError(f"Invalid base URL {base_url!r}: {e}", e) from e
    if url.userinfo:
        # Quoting the URL would quote the password; and a gateway credential belongs in
        # auth_token or headers, where it is masked.
        shown = url.copy_with(username=None, password=None)
        raise ProviderError(
            f"Invalid base URL {str(shown)!r}: credentials in the URL (user:password@) are not "
            "supported; use auth_token or headers"
        )
    if url.scheme not in ("http", "https") or not url.host:
        raise ProviderError(
            f"Invalid base URL {base_url!r}: expected http(s)://host[:port][/prefix]"
        )
    if url.query or url.fragment:
        raise ProviderError(f"Invalid base URL {base_url!r}: no query or fragment allowed")
    path = url.path.rstrip("/")
    if not path.endswith("/v1"):
        path += "/v1"
    return str(url.copy_with(path=path + "/messages"))


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_secure(url: str, allow_insecure_http: bool) -> None:
    """Refuse to send credentials in clear text across a network: plain ``http://`` is fine
    to a loopback host (a local gateway or replay server), anywhere else only when allowed."""
    parsed = httpx.URL(url)
    if parsed.scheme == "http" and not allow_insecure_http and not _is_loopback(parsed.host):
        raise ProviderError(
            f"Refusing to send credentials over plain http to {parsed.host}: use https, or set "
            "ProviderConfig(allow_insecure_http=True) for a trusted network"
        )


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _sendable(what: str, value: str) -> str:
    # A value h11 would refuse (CR, LF, NUL, other controls) or httpx could not encode
    # (non-ASCII) would fail later with the whole value quoted; refuse it here, unquoted.
    if not isinstance(value, str) or not (value.isascii() and value.isprintable()):
        raise ProviderError(
            f"{what} cannot be sent in an HTTP header: it must be printable ASCII "
            "(no line breaks or control characters; check for a trailing newline)"
        )
    return value


def request_headers(config: ProviderConfig, environ: Mapping[str, str]) -> dict[str, str]:
    """The headers of every request: credentials, version, content type, then the config's
    extra headers (which may add a gateway's own auth or override ``anthropic-version``)."""
    api_key, auth_token = config.api_key, config.auth_token
    if not api_key and not auth_token:
        # Only when the config names no credential: never mix explicit and inherited ones,
        # which would send a real key to a gateway that was given a token.
        api_key = environ.get("ANTHROPIC_API_KEY")
        if not api_key:
            auth_token = environ.get("ANTHROPIC_AUTH_TOKEN")
    if not api_key and not auth_token:
        raise ProviderError(
            "No API key: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN for a gateway), "
            "or pass ProviderConfig(api_key=...)"
        )
    headers = {
        "anthropic-version": config.anthropic_version or ANTHROPIC_VERSION,
        "content-type": "application/json",
        "accept": "text/event-stream",
    }
    if api_key:
        headers["x-api-key"] = _sendable("api_key", api_key)
    if auth_token:
        headers["authorization"] = f"Bearer {_sendable('auth_token', auth_token)}"
    for name, value in (config.headers or {}).items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ProviderError(f"headers: {name!r} is not a valid HTTP header name")
        headers[name.lower()] = _sendable(f"headers[{name!r}]", value)
    return headers


def secrets_of(headers: Mapping[str, str], config: ProviderConfig) -> tuple[str, ...]:
    """The values to mask wherever text leaves the provider: its credentials and the values of
    the config's extra headers (a gateway's own key travels there)."""
    return secret_values(
        [
            headers.get("x-api-key", ""),
            headers.get("authorization", ""),
            config.auth_token or "",
            *(config.headers or {}).values(),
        ]
    )

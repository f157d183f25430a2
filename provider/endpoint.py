"""Where and how requests go: base-URL rules and headers (no I/O; the body is request.py's)."""

from __future__ import annotations

import base64
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from typing import TypeAlias

import httpx

from ._version import __version__
from .errors import ProviderError, secret_values
from .types import ProviderConfig

__all__ = [
    "ANTHROPIC_VERSION",
    "DEFAULT_BASE_URL",
    "PUBLIC_HEADERS",
    "REPLAYED",
    "USER_AGENT",
    "check_secure",
    "environment_proxy",
    "is_loopback_host",
    "messages_url",
    "proxy_secrets",
    "request_headers",
    "secrets_of",
]

DEFAULT_BASE_URL = "https://api.anthropic.com"
# The version the API documents and the recorded streams used; newer ones are opt-in since a
# newer version can change request rules.
ANTHROPIC_VERSION = "2023-06-01"
# So that a gateway's logs can tell this client apart; httpx's own version follows, as the
# official SDK's user agent names its HTTP stack.
# The response extension ReplayTransport sets: the answer is a recording, so the provider retries
# without waiting (waiting cannot change a recording).
REPLAYED = "provider.replayed"
USER_AGENT = f"provider/{__version__} httpx/{httpx.__version__}"


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


Resolver: TypeAlias = Callable[[str], Iterable[str]]


def _resolve(host: str) -> list[str]:
    """The addresses ``host`` resolves to on this machine (the system resolver)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos]


def _is_loopback_address(text: str) -> bool:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def is_loopback_host(host: str, resolve: Resolver = _resolve) -> bool:
    """Whether ``host`` is this machine, judged by address, not by spelling.

    A literal IP address is loopback or not. Of the names, only ``localhost`` and
    ``*.localhost`` can be loopback, and only when every address ``resolve`` gives for them is a
    loopback one: on a machine whose resolver sends such names to DNS they may well lead
    elsewhere. Other names are never resolved (no DNS query leaves the machine for the check).
    """
    host = host.strip("[]").lower().rstrip(".")
    if _is_loopback_address(host):
        return True
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return False  # an address, and not a loopback one
    except ValueError:
        pass
    if host != "localhost" and not host.endswith(".localhost"):
        return False
    addresses = list(resolve(host))
    return bool(addresses) and all(_is_loopback_address(a) for a in addresses)


ProxySetting: TypeAlias = "str | httpx.URL | httpx.Proxy"


def _proxy_url(proxy: ProxySetting) -> httpx.URL:
    return proxy.url if isinstance(proxy, httpx.Proxy) else httpx.URL(proxy)


def _no_proxy_pattern(entry: str) -> str:
    # httpx's reading of a NO_PROXY entry (httpx._utils.get_environment_proxies), which follows
    # curl's: an address or localhost as it is, a domain with its subdomains.
    if "://" in entry:
        return entry
    try:
        address = ipaddress.ip_address(entry.split("/", 1)[0])
    except ValueError:
        return f"all://{entry}" if entry.lower() == "localhost" else f"all://*{entry}"
    return f"all://[{entry}]" if address.version == 6 else f"all://{entry}"


def _matches(pattern: str, url: httpx.URL) -> bool:
    # httpx's URLPattern.matches, for the patterns _no_proxy_pattern makes.
    try:
        parsed = httpx.URL(pattern)
    except httpx.InvalidURL:
        return False
    if parsed.scheme not in ("all", url.scheme):
        return False
    host = parsed.host
    if host and host != "*":
        if host.startswith("*."):
            ok = re.fullmatch(rf".+\.{re.escape(host[2:])}", url.host) is not None
        elif host.startswith("*"):
            ok = re.fullmatch(rf"(.+\.)?{re.escape(host[1:])}", url.host) is not None
        else:
            ok = url.host == host
        if not ok:
            return False
    return parsed.port is None or parsed.port == url.port


def environment_proxy(url: str, proxies: Mapping[str, str]) -> httpx.URL | None:
    """The proxy httpx takes from the environment for ``url``, or None for a direct connection.

    ``proxies`` is ``urllib.request.getproxies()`` (what httpx reads: ``HTTP_PROXY``,
    ``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``, lower case first), so the two agree.
    """
    target = httpx.URL(url)
    entries = [entry.strip() for entry in proxies.get("no", "").split(",")]
    if "*" in entries:
        return None
    if any(entry and _matches(_no_proxy_pattern(entry), target) for entry in entries):
        return None
    chosen = proxies.get(target.scheme) or proxies.get("all")
    if not chosen:
        return None
    return httpx.URL(chosen if "://" in chosen else f"http://{chosen}")


def check_secure(
    url: str,
    allow_insecure_http: bool,
    *,
    proxy: ProxySetting | None = None,
    resolve: Resolver = _resolve,
) -> None:
    """Refuse to send credentials in clear text across a network.

    Over ``https://`` the credentials are encrypted to the host (a proxy only relays the
    tunnel). Over plain ``http://`` they can be read on every hop: the host must be this machine
    (a local gateway or replay server) and so must the ``proxy`` the request goes through, if
    any; anywhere else only when allowed. Loopback is judged by :func:`is_loopback_host`.
    """
    parsed = httpx.URL(url)
    if parsed.scheme != "http" or allow_insecure_http:
        return
    if not is_loopback_host(parsed.host, resolve):
        raise ProviderError(
            f"Refusing to send credentials over plain http to {parsed.host}: use https, or set "
            "ProviderConfig(allow_insecure_http=True) for a trusted network"
        )
    if proxy is not None:
        hop = _proxy_url(proxy)
        if not is_loopback_host(hop.host, resolve):
            raise ProviderError(
                f"Refusing to send credentials over plain http through the proxy {hop.host}: "
                f"a proxy reads a plain http request, key included. Go direct to {parsed.host} "
                "(NO_PROXY=127.0.0.1,localhost), use https, or set "
                "ProviderConfig(allow_insecure_http=True) for a trusted network"
            )


def proxy_secrets(proxy: ProxySetting | None) -> list[str]:
    """A proxy's credentials, as they could be quoted back: the user name and password as given
    and as they travel (``Proxy-Authorization: Basic …``), and the proxy's header values."""
    if proxy is None:
        return []
    found: list[str] = []
    if isinstance(proxy, httpx.Proxy):
        auth = proxy.auth
        found += list(proxy.headers.values())
    else:
        parsed = httpx.URL(proxy)
        auth = (parsed.username, parsed.password) if parsed.userinfo else None
        found.append(parsed.userinfo.decode("ascii", "replace"))
    if auth is not None:
        user, password = auth
        found += [user, password, base64.b64encode(f"{user}:{password}".encode()).decode()]
    return [value for value in found if value]


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
        "user-agent": USER_AGENT,
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


# Header values that are protocol, not secrets. Every other value a request carries (x-api-key,
# authorization, whatever config.headers adds: a gateway's own key travels there) is masked.
PUBLIC_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "anthropic-version",
        "connection",
        "content-length",
        "content-type",
        "host",
        "user-agent",
    }
)
# The official SDK's own platform and retry headers (x-stainless-lang, -os, -retry-count,
# -stream-helper: "messages" …): protocol too. Masked, they would mangle recorded bodies.
PUBLIC_PREFIXES = ("x-stainless-",)


def secrets_of(headers: Mapping[str, str], *more: str) -> tuple[str, ...]:
    """The values to mask wherever text leaves the provider or the recorder: every request header
    value but the :data:`PUBLIC_HEADERS` (with the bare token of ``Bearer X``), and ``more``
    (a proxy's credentials). The provider and the recorder apply this one rule."""
    values = [
        value
        for name, value in headers.items()
        if name.lower() not in PUBLIC_HEADERS and not name.lower().startswith(PUBLIC_PREFIXES)
    ]
    return secret_values([*values, *more])

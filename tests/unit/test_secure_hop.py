"""The plain-http rule covers the hop the key travels, and trusts addresses, not spellings
(issue 12). No DNS: the resolver is injected, and the environment's proxies are passed in."""

from __future__ import annotations

from collections.abc import Iterable

import httpx
import pytest

from provider import MODELS, AnthropicProvider, ModelInfo, ProviderConfig, ProviderError
from provider.endpoint import check_secure, environment_proxy, is_loopback_host

URL = "http://127.0.0.1:8080/v1/messages"


def resolver(table: dict[str, list[str]]) -> tuple[list[str], object]:
    asked: list[str] = []

    def resolve(host: str) -> Iterable[str]:
        asked.append(host)
        return table.get(host, [])

    return asked, resolve


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]"])
def test_a_loopback_address_is_trusted_without_resolving(host: str) -> None:
    asked, resolve = resolver({})
    assert is_loopback_host(host, resolve)  # type: ignore[arg-type]
    assert asked == []


@pytest.mark.parametrize("host", ["localhost", "gw.localhost", "LOCALHOST", "a.b.localhost."])
def test_a_localhost_name_is_trusted_only_when_it_resolves_to_loopback(host: str) -> None:
    name = host.lower().rstrip(".")
    _, local = resolver({name: ["127.0.0.1", "::1"]})
    assert is_loopback_host(host, local)  # type: ignore[arg-type]
    # The same spelling, sent off the machine by its resolver: not trusted.
    _, elsewhere = resolver({name: ["127.0.0.1", "203.0.113.7"]})
    assert not is_loopback_host(host, elsewhere)  # type: ignore[arg-type]
    _, unknown = resolver({})
    assert not is_loopback_host(host, unknown)  # type: ignore[arg-type]


@pytest.mark.parametrize("host", ["gateway.example.com", "localhost.example.com", "10.0.0.5"])
def test_other_names_are_never_resolved_nor_trusted(host: str) -> None:
    asked, resolve = resolver({host: ["127.0.0.1"]})  # even if they would resolve locally
    assert not is_loopback_host(host, resolve)  # type: ignore[arg-type]
    assert asked == []


def test_a_localhost_name_that_dns_sends_elsewhere_is_refused_over_plain_http() -> None:
    _, resolve = resolver({"evil.localhost": ["198.51.100.9"]})
    with pytest.raises(ProviderError, match=r"plain http to evil\.localhost"):
        check_secure("http://evil.localhost/v1/messages", False, resolve=resolve)  # type: ignore[arg-type]
    check_secure("http://evil.localhost/v1/messages", True, resolve=resolve)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "proxy",
    [
        "http://proxy.corp.example.com:3128",
        "https://proxy.corp.example.com:3128",
        httpx.Proxy("http://10.1.2.3:3128"),
    ],
    ids=["http", "https", "httpx.Proxy"],
)
def test_plain_http_to_loopback_through_a_remote_proxy_is_refused(
    proxy: str | httpx.Proxy,
) -> None:
    with pytest.raises(ProviderError, match="through the proxy") as caught:
        check_secure(URL, False, proxy=proxy)
    assert "NO_PROXY" in caught.value.message
    check_secure(URL, True, proxy=proxy)  # allowed when asked
    check_secure("https://api.anthropic.com/v1/messages", False, proxy=proxy)  # a tunnel


def test_plain_http_to_loopback_through_a_loopback_proxy_is_fine() -> None:
    check_secure(URL, False, proxy="http://127.0.0.1:3128")


def config(**fields: object) -> ProviderConfig:
    return ProviderConfig(
        model_id="claude-sonnet-4-5",
        api_key="sk-ant-hop-test-0123456789",
        base_url="http://127.0.0.1:8080",
        **fields,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_the_provider_refuses_an_environment_proxy_that_would_read_the_key(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, "http://proxy.corp.example.com:3128")
    with pytest.raises(ProviderError, match=r"through the proxy proxy\.corp\.example\.com"):
        AnthropicProvider(config())
    with pytest.raises(ProviderError, match="through the proxy"):
        AnthropicProvider(config(), http_client=httpx.AsyncClient())  # it reads the env too
    AnthropicProvider(config(), http_client=httpx.AsyncClient(trust_env=False))
    AnthropicProvider(config(allow_insecure_http=True))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    AnthropicProvider(config())  # direct: the key stays on the machine


def test_the_provider_refuses_proxy_argument_that_would_read_the_key() -> None:
    with pytest.raises(ProviderError, match="through the proxy"):
        AnthropicProvider(config(), proxy="http://proxy.corp.example.com:3128")


# --- environment_proxy agrees with httpx (its private mount table is the oracle) -----------------

HOSTS = ["127.0.0.1", "localhost", "gw.localhost", "[::1]", "api.example.com", "example.com"]
NO_PROXY = [
    "",
    "*",
    "127.0.0.1",
    "localhost",
    "example.com",
    ".example.com",
    "::1",
    "localhost:8080",
    "http://127.0.0.1",
    "10.0.0.0/8, 127.0.0.1",
]


def httpx_choices(urls: list[str], proxies: dict[str, str]) -> list[str | None]:
    """The proxy httpx's own client would use for each URL with these environment proxies."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("httpx._utils.getproxies", lambda: proxies)
        client = httpx.Client()
    chosen: list[str | None] = []
    with client:
        for url in urls:
            pool = getattr(client._transport_for_url(httpx.URL(url)), "_pool", None)
            proxy = getattr(pool, "_proxy_url", None)
            if proxy is None:
                chosen.append(None)
            else:
                chosen.append(f"{proxy.scheme.decode()}://{proxy.host.decode()}:{proxy.port}")
    return chosen


@pytest.mark.parametrize("no_proxy", NO_PROXY)
def test_environment_proxy_picks_what_httpx_picks(no_proxy: str) -> None:
    urls = [f"http://{host}:8080/v1/messages" for host in HOSTS]
    urls += [f"https://{host}/v1/messages" for host in HOSTS]
    for proxies in (
        {"http": "http://hp.example:3128", "https": "http://sp.example:3129"},
        {"all": "proxy.example:3130"},
    ):
        env = dict(proxies, no=no_proxy) if no_proxy else dict(proxies)
        ours = [environment_proxy(url, env) for url in urls]
        shown = [None if u is None else f"{u.scheme}://{u.host}:{u.port}" for u in ours]
        assert shown == httpx_choices(urls, env), env


# --- ModelInfo constraints in Python ---------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"max_tokens": -1}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"context_window": -5}, "context_window"),
        ({"input_price": -3}, "input_price"),
        ({"output_price": float("nan")}, "output_price"),
        ({"cache_reads_price": -0.1}, "cache_reads_price"),
        ({"cache_writes_1h_price": "2"}, "cache_writes_1h_price"),
        ({"max_tokens": True}, "max_tokens"),
    ],
)
def test_model_info_refuses_values_out_of_range_in_python_too(
    fields: dict[str, object], name: str
) -> None:
    with pytest.raises(ProviderError, match=rf"^ModelInfo\.{name} = "):
        ModelInfo(**fields)  # type: ignore[arg-type]


def test_model_info_accepts_the_table_and_zero_prices() -> None:
    ModelInfo(max_tokens=1, input_price=0, output_price=0.0)
    assert MODELS["claude-sonnet-4-5"].input_price == 3

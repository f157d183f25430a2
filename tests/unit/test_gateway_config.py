"""Gateway configuration without a network: the base-URL rules, the request headers
(``auth_token``, extra ``headers``, ``anthropic_version``, never mixing explicit and inherited
credentials), the plain-http rule, and the same keys from models.json in camelCase."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from provider import (
    MODELS,
    AnthropicProvider,
    Message,
    ProviderConfig,
    ProviderError,
    TextChunk,
    load_models_config,
)
from provider.config import create_provider
from provider.endpoint import ANTHROPIC_VERSION, check_secure, messages_url, request_headers

KEY = "sk-ant-api03-UNIT-GATEWAY-KEY-0b7e"
ENV_KEY = "sk-ant-api03-FROM-THE-ENVIRONMENT-c4d1"
TOKEN = "gw-token-UNIT-9a2f"
ENV_TOKEN = "gw-token-FROM-THE-ENVIRONMENT-33aa"
HAIKU = (Path(__file__).resolve().parents[2] / "fixtures" / "haiku.sse").read_bytes()


def config(**fields: Any) -> ProviderConfig:
    return ProviderConfig(
        model_id="claude-sonnet-4-5", model_info=MODELS["claude-sonnet-4-5"], **fields
    )


# --- base URL rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://api.anthropic.com", "https://api.anthropic.com/v1/messages"),
        ("https://api.anthropic.com/", "https://api.anthropic.com/v1/messages"),
        ("https://api.anthropic.com/v1", "https://api.anthropic.com/v1/messages"),
        ("https://api.anthropic.com/v1/", "https://api.anthropic.com/v1/messages"),
        ("  https://api.anthropic.com\n", "https://api.anthropic.com/v1/messages"),
        ("https://gw.example.com/anthropic", "https://gw.example.com/anthropic/v1/messages"),
        ("https://gw.example.com/anthropic/", "https://gw.example.com/anthropic/v1/messages"),
        ("https://gw.example.com/anthropic/v1", "https://gw.example.com/anthropic/v1/messages"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1/messages"),
        ("http://localhost:4000/proxy/", "http://localhost:4000/proxy/v1/messages"),
        # A /v1 inside the prefix (Cloudflare AI Gateway's form) is a prefix, not the API's /v1.
        (
            "https://gateway.ai.cloudflare.com/v1/acct/gw/anthropic",
            "https://gateway.ai.cloudflare.com/v1/acct/gw/anthropic/v1/messages",
        ),
        ("https://gw.example.com/v1beta", "https://gw.example.com/v1beta/v1/messages"),
    ],
)
def test_messages_url_rules(base_url: str, expected: str) -> None:
    assert messages_url(base_url) == expected


@pytest.mark.parametrize(
    "base_url",
    [
        "",
        "api.anthropic.com",  # no scheme
        "ftp://api.anthropic.com",
        "https://",
        "https://gw.example.com/anthropic?key=1",
        "https://gw.example.com/anthropic#v1",
        "http://[::1",
    ],
)
def test_invalid_base_url_is_a_provider_error_naming_it(base_url: str) -> None:
    with pytest.raises(ProviderError, match="Invalid base URL") as caught:
        messages_url(base_url)
    assert repr(base_url) in caught.value.message


def test_an_invalid_base_url_is_refused_when_the_provider_is_built() -> None:
    with pytest.raises(ProviderError, match="Invalid base URL"):
        AnthropicProvider(config(api_key=KEY, base_url="gateway.example.com/anthropic"))


def test_base_url_from_the_environment_and_config_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "https://env-gw.example.com/llm/")
    assert AnthropicProvider(config(api_key=KEY)).url == (
        "https://env-gw.example.com/llm/v1/messages"
    )
    explicit = AnthropicProvider(config(api_key=KEY, base_url="https://gw.example.com/x"))
    assert explicit.url == "https://gw.example.com/x/v1/messages"
    monkeypatch.delenv("ANTHROPIC_BASE_URL")
    assert AnthropicProvider(config(api_key=KEY)).url == "https://api.anthropic.com/v1/messages"


# --- plain http ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://gateway.example.com/v1/messages",
        "http://127.0.0.1:8080/v1/messages",
        "http://127.8.9.10/v1/messages",
        "http://localhost/v1/messages",
        "http://[::1]:9000/v1/messages",
    ],
)
def test_https_anywhere_and_http_to_loopback_are_allowed(url: str) -> None:
    check_secure(url, allow_insecure_http=False)


@pytest.mark.parametrize(
    "host",
    [
        "gateway.example.com",
        "10.0.0.5",
        "0.0.0.0",
        "localhost.example.com",  # looks local, is not
        "127.0.0.1.example.com",
        "[2001:db8::1]",
    ],
)
def test_http_to_another_host_is_refused_unless_allowed(host: str) -> None:
    url = f"http://{host}/v1/messages"
    with pytest.raises(ProviderError, match="allow_insecure_http") as caught:
        check_secure(url, allow_insecure_http=False)
    assert host.strip("[]") in caught.value.message
    check_secure(url, allow_insecure_http=True)


def test_the_provider_refuses_plain_http_to_a_remote_gateway_at_construction() -> None:
    sent: list[httpx.Request] = []
    client = httpx.AsyncClient(transport=httpx.MockTransport(sent.append))  # type: ignore[arg-type]
    with pytest.raises(ProviderError, match=r"plain http to gateway\.example\.com") as caught:
        AnthropicProvider(
            config(auth_token=TOKEN, base_url="http://gateway.example.com/anthropic"),
            http_client=client,
        )
    assert TOKEN not in str(caught.value)
    assert sent == []


def sse_client(sent: list[httpx.Request]) -> httpx.AsyncClient:
    """A client whose transport answers every request with the haiku stream, no socket."""

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=HAIKU)

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


async def stream_once(p: AnthropicProvider) -> str:
    chunks = [c async for c in p.create_message("", [Message(role="user", content="Hi")])]
    return "".join(c.text for c in chunks if isinstance(c, TextChunk))


@pytest.mark.anyio
async def test_allow_insecure_http_sends_to_the_remote_gateway() -> None:
    sent: list[httpx.Request] = []
    async with sse_client(sent) as client:
        p = AnthropicProvider(
            config(
                auth_token=TOKEN,
                base_url="http://gateway.example.com/anthropic",
                allow_insecure_http=True,
            ),
            http_client=client,
        )
        assert (await stream_once(p)).startswith("Bytes drift")
    (request,) = sent
    assert str(request.url) == "http://gateway.example.com/anthropic/v1/messages"


# --- headers ---------------------------------------------------------------------------------


def test_api_key_is_sent_as_x_api_key_with_the_default_version() -> None:
    headers = request_headers(config(api_key=KEY), {})
    assert headers["x-api-key"] == KEY
    assert "authorization" not in headers
    assert headers["anthropic-version"] == ANTHROPIC_VERSION == "2023-06-01"
    assert headers["content-type"] == "application/json"


def test_auth_token_is_sent_as_bearer_without_x_api_key() -> None:
    headers = request_headers(config(auth_token=TOKEN), {})
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert "x-api-key" not in headers


ENVIRONMENTS = {
    "key": {"ANTHROPIC_API_KEY": ENV_KEY},
    "token": {"ANTHROPIC_AUTH_TOKEN": ENV_TOKEN},
    "both": {"ANTHROPIC_API_KEY": ENV_KEY, "ANTHROPIC_AUTH_TOKEN": ENV_TOKEN},
}


@pytest.mark.parametrize("environ", ENVIRONMENTS.values(), ids=ENVIRONMENTS.keys())
def test_an_explicit_api_key_never_picks_up_a_credential_from_the_environment(
    environ: dict[str, str],
) -> None:
    headers = request_headers(config(api_key=KEY), environ)
    assert headers["x-api-key"] == KEY
    assert "authorization" not in headers


@pytest.mark.parametrize("environ", ENVIRONMENTS.values(), ids=ENVIRONMENTS.keys())
def test_an_explicit_auth_token_never_picks_up_a_credential_from_the_environment(
    environ: dict[str, str],
) -> None:
    # The case that matters: a real key in the shell must not travel to a token-only gateway.
    headers = request_headers(config(auth_token=TOKEN), environ)
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert "x-api-key" not in headers
    assert ENV_KEY not in json.dumps(headers)


@pytest.mark.parametrize(
    ("environ", "header", "value"),
    [
        (ENVIRONMENTS["key"], "x-api-key", ENV_KEY),
        (ENVIRONMENTS["token"], "authorization", f"Bearer {ENV_TOKEN}"),
        (ENVIRONMENTS["both"], "x-api-key", ENV_KEY),  # the key wins; the token is not added
    ],
)
def test_with_no_explicit_credential_one_comes_from_the_environment(
    environ: dict[str, str], header: str, value: str
) -> None:
    headers = request_headers(config(), environ)
    assert headers[header] == value
    assert {"x-api-key", "authorization"} & headers.keys() == {header}


def test_no_credential_anywhere_names_both_variables() -> None:
    with pytest.raises(ProviderError) as caught:
        request_headers(config(), {})
    assert "ANTHROPIC_API_KEY" in caught.value.message
    assert "ANTHROPIC_AUTH_TOKEN" in caught.value.message


def test_extra_headers_are_added_with_lower_case_names() -> None:
    extra = {"Anthropic-Beta": "prompt-caching-2024-07-31,output-128k-2025-02-19",
             "cf-aig-authorization": "Bearer cf-token"}  # fmt: skip
    headers = request_headers(config(api_key=KEY, headers=extra), {})
    assert headers["anthropic-beta"] == "prompt-caching-2024-07-31,output-128k-2025-02-19"
    assert headers["cf-aig-authorization"] == "Bearer cf-token"
    assert "Anthropic-Beta" not in headers
    assert headers["x-api-key"] == KEY


def test_anthropic_version_can_be_overridden_by_field_or_by_header() -> None:
    assert (
        request_headers(config(api_key=KEY, anthropic_version="2024-10-22"), {})[
            "anthropic-version"
        ]
        == "2024-10-22"
    )
    by_header = config(api_key=KEY, headers={"Anthropic-Version": "2025-01-01"})
    (version,) = [v for k, v in request_headers(by_header, {}).items() if k == "anthropic-version"]
    assert version == "2025-01-01"


@pytest.mark.anyio
async def test_the_provider_sends_the_gateway_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_KEY)
    sent: list[httpx.Request] = []
    async with sse_client(sent) as client:
        p = AnthropicProvider(
            config(
                auth_token=TOKEN,
                base_url="https://gateway.example.com/anthropic/",
                headers={"anthropic-beta": "b1", "cf-aig-authorization": "Bearer cf"},
                anthropic_version="2024-10-22",
            ),
            http_client=client,
        )
        await stream_once(p)
    (request,) = sent
    assert str(request.url) == "https://gateway.example.com/anthropic/v1/messages"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert "x-api-key" not in request.headers
    assert request.headers["anthropic-beta"] == "b1"
    assert request.headers["cf-aig-authorization"] == "Bearer cf"
    assert request.headers["anthropic-version"] == "2024-10-22"


def test_proxy_and_an_own_http_client_together_are_refused() -> None:
    client = httpx.AsyncClient()
    with pytest.raises(ProviderError, match="proxy"):
        AnthropicProvider(config(api_key=KEY), http_client=client, proxy="http://127.0.0.1:1")


# --- models.json -----------------------------------------------------------------------------


def write_models(tmp_path: Path, provider_config: dict[str, Any]) -> Path:
    document = {
        "active": "gw",
        "models": {"gw": {"providerConfig": {"modelId": "claude-sonnet-4-5", **provider_config}}},
    }
    path = tmp_path / "models.json"
    path.write_text(json.dumps(document))
    return path


def test_models_json_gateway_keys_in_camel_case(tmp_path: Path) -> None:
    path = write_models(
        tmp_path,
        {
            "baseUrl": "http://gateway.internal:8080/anthropic",
            "authToken": TOKEN,
            "headers": {"anthropic-beta": "b1", "cf-aig-authorization": "Bearer cf"},
            "anthropicVersion": "2024-10-22",
            "allowInsecureHttp": True,
        },
    )
    loaded = load_models_config(path).models["gw"].provider_config
    assert loaded.auth_token == TOKEN
    assert loaded.api_key is None
    assert loaded.headers == {"anthropic-beta": "b1", "cf-aig-authorization": "Bearer cf"}
    assert loaded.anthropic_version == "2024-10-22"
    assert loaded.allow_insecure_http is True
    # And back: the same camelCase keys, as the TypeScript side reads them.
    written = msgspec.json.decode(msgspec.json.encode(loaded))
    assert {"authToken", "headers", "anthropicVersion", "allowInsecureHttp"} <= written.keys()


@pytest.mark.anyio
async def test_a_provider_from_models_json_uses_the_gateway_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_KEY)
    path = write_models(
        tmp_path,
        {
            "baseUrl": "http://gateway.internal:8080/anthropic/v1",
            "authToken": TOKEN,
            "headers": {"anthropic-beta": "b1"},
            "anthropicVersion": "2024-10-22",
            "allowInsecureHttp": True,
        },
    )
    provider = create_provider(load_models_config(path))
    assert isinstance(provider, AnthropicProvider)
    assert provider.url == "http://gateway.internal:8080/anthropic/v1/messages"
    sent: list[httpx.Request] = []
    async with sse_client(sent) as client:
        p = AnthropicProvider(provider.config, http_client=client)
        await stream_once(p)
    (request,) = sent
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert "x-api-key" not in request.headers  # the environment's key stayed home
    assert request.headers["anthropic-version"] == "2024-10-22"
    assert request.headers["anthropic-beta"] == "b1"


def test_models_json_without_allow_insecure_http_refuses_a_remote_http_gateway(
    tmp_path: Path,
) -> None:
    path = write_models(tmp_path, {"baseUrl": "http://gateway.internal/anthropic", "apiKey": KEY})
    models = load_models_config(path)
    assert models.models["gw"].provider_config.allow_insecure_http is False
    with pytest.raises(ProviderError, match=r"gateway\.internal") as caught:
        create_provider(models)
    assert KEY not in str(caught.value)


# --- README's "Gateways and proxies": the examples run and the table is the code's ------------

DOC = Path(__file__).resolve().parents[2] / "README.md"


def doc_text() -> str:
    """The README's "Gateways and proxies" section, up to the next top-level heading."""
    text = DOC.read_text()
    start = text.index("\n## Gateways and proxies\n")
    end = text.find("\n## ", start + 1)
    return text[start:end]


_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
_URL_ROW = re.compile(r"^\| `(https?://[^`]+)` \| `(https?://[^`]+)` \|$", re.M)


def doc_blocks(language: str) -> list[str]:
    return [code for lang, code in _BLOCK.findall(doc_text()) if lang == language]


def test_doc_base_url_table_is_what_the_code_does() -> None:
    rows = _URL_ROW.findall(doc_text())
    assert len(rows) >= 7
    for base_url, expected in rows:
        assert messages_url(base_url) == expected, base_url


def test_doc_python_examples_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_KEY)
    monkeypatch.setenv("CORP_LLM_TOKEN", TOKEN)
    monkeypatch.setenv("CF_AIG_TOKEN", "cf-token")
    blocks = doc_blocks("python")
    assert len(blocks) == 5
    names: dict[str, Any] = {}
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), names)
    assert capsys.readouterr().out == "https://llm-gateway.example.com/anthropic/v1/messages\n"
    corp = request_headers(names["corp"].config, {"ANTHROPIC_API_KEY": ENV_KEY})
    assert corp["authorization"] == f"Bearer {TOKEN}"
    assert "x-api-key" not in corp
    cloudflare = names["cloudflare"]
    assert cloudflare.url.endswith("/ACCOUNT_ID/GATEWAY_ID/anthropic/v1/messages")
    assert request_headers(cloudflare.config, {})["cf-aig-authorization"] == "Bearer cf-token"
    assert names["lab"].url == "http://gateway.lab.internal:8080/anthropic/v1/messages"
    assert names["proxied"].url == "https://api.anthropic.com/v1/messages"


def test_doc_models_json_example_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_KEY)
    (document,) = doc_blocks("json")
    path = tmp_path / "models.json"
    path.write_text(document)
    provider = create_provider(load_models_config(path))
    assert isinstance(provider, AnthropicProvider)
    assert provider.url == "https://llm.corp.example.com/anthropic/v1/messages"
    assert provider.config.headers == {"anthropic-beta": "prompt-caching-2024-07-31"}


def test_a_snake_case_key_in_models_json_is_refused_as_the_doc_says(tmp_path: Path) -> None:
    path = write_models(tmp_path, {"auth_token": TOKEN})
    with pytest.raises(ProviderError, match="authToken"):
        load_models_config(path)

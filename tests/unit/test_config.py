"""models.json: the TypeScript camelCase form, error messages with key paths, create_provider."""

from __future__ import annotations

import contextlib
import copy
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from provider import (
    MODELS,
    AnthropicProvider,
    AuthenticationError,
    Message,
    ModelsConfig,
    ProviderError,
    load_models_config,
)
from provider.config import create_provider

# Shaped like real keys so that a leak is recognisable; they are not keys.
FILE_KEY = "sk-ant-api03-FILEKEYONLY0123456789abcdef-AA"
ENV_KEY = "sk-ant-api03-ENVKEYONLY0123456789abcdef-AA"

# Written the way the TypeScript side writes it: every key camelCase, every optional key present.
TS_DOCUMENT: dict[str, Any] = {
    "active": "main",
    "models": {
        "main": {
            "enabled": True,
            "provider": "anthropic",
            "providerConfig": {
                "modelId": "claude-sonnet-4-5",
                "modelInfo": {
                    "maxTokens": 8192,
                    "contextWindow": 200000,
                    "supportsImages": True,
                    "supportsPromptCache": True,
                    "inputPrice": 3,
                    "outputPrice": 15,
                    "cacheWritesPrice": 3.75,
                    "cacheReadsPrice": 0.3,
                },
                "baseUrl": "https://gateway.example/anthropic",
                "apiKey": FILE_KEY,
            },
        },
        "fast": {
            "enabled": False,
            "provider": "anthropic",
            "providerConfig": {"modelId": "claude-haiku-4-5"},
        },
    },
}


def write(tmp_path: Path, document: Any, name: str = "models.json") -> Path:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def minimal(**provider_config: Any) -> dict[str, Any]:
    return {"active": "fast", "models": {"fast": {"providerConfig": provider_config}}}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The machine running the tests may have a real key or gateway configured.
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)


# ---------------------------------------------------------------------------------------------
# Loading the TypeScript form


def test_loads_every_typescript_key(tmp_path: Path) -> None:
    config = load_models_config(write(tmp_path, TS_DOCUMENT))
    assert isinstance(config, ModelsConfig)
    assert config.active == "main"
    assert set(config.models) == {"main", "fast"}
    main = config.models["main"]
    assert main.enabled is True
    assert main.provider == "anthropic"
    pc = main.provider_config
    assert pc.model_id == "claude-sonnet-4-5"
    assert pc.base_url == "https://gateway.example/anthropic"
    assert pc.api_key == FILE_KEY
    # The file's fields over the table's entry (the 1-hour price and description stay).
    assert pc.model_info == msgspec.structs.replace(
        MODELS["claude-sonnet-4-5"],
        max_tokens=8192,
        context_window=200000,
        supports_images=True,
        supports_prompt_cache=True,
        input_price=3.0,
        output_price=15.0,
        cache_writes_price=3.75,
        cache_reads_price=0.3,
    )
    assert config.models["fast"].enabled is False


def test_round_trip_keeps_the_camel_case_form(tmp_path: Path) -> None:
    config = load_models_config(write(tmp_path, TS_DOCUMENT))
    encoded = msgspec.json.decode(msgspec.json.encode(config))
    # Every value the file set comes back under its original key (3 == 3.0, so integer prices
    # written by TypeScript compare equal to the floats); the table fills the rest of modelInfo.
    written = TS_DOCUMENT["models"]["main"]["providerConfig"]
    got = encoded["models"]["main"]["providerConfig"]
    assert {k: v for k, v in got.items() if k != "modelInfo"} == {
        k: v for k, v in written.items() if k != "modelInfo"
    }
    assert written["modelInfo"].items() <= got["modelInfo"].items()
    assert encoded["models"]["fast"]["enabled"] is False
    # And loading what was written gives the same config.
    again = load_models_config(write(tmp_path, json.dumps(encoded), "again.json"))
    assert again == config


@pytest.mark.parametrize(
    ("where", "key", "meant"),
    [
        ("$", "version", None),
        ("$.models.main", "color", None),
        ("$.models.main", "Enabled", "enabled"),
        ("$.models.main.providerConfig", "baseURL", "baseUrl"),
        ("$.models.main.providerConfig", "apikey", "apiKey"),
        ("$.models.main.providerConfig", "modelID", "modelId"),
        ("$.models.main.providerConfig", "authtoken", "authToken"),
        ("$.models.main.providerConfig", "someFutureOption", None),
        ("$.models.main.providerConfig.modelInfo", "inputPrise", "inputPrice"),
        ("$.models.main.providerConfig.modelInfo", "cacheWrite1hPrice", "cacheWrites1hPrice"),
        ("$.models.main.providerConfig.modelInfo", "tiers", None),
    ],
)
def test_an_unknown_key_is_an_error_naming_it_and_the_key_it_probably_meant(
    tmp_path: Path, where: str, key: str, meant: str | None
) -> None:
    # issue 12: ignored, "baseURL" sends the shell's real key to the public API instead of the
    # gateway, and "inputPrise" makes every cost $0.
    document = copy.deepcopy(TS_DOCUMENT)
    node = document
    for part in where.split(".")[1:]:
        node = node[part]
    node[key] = 1
    path = write(tmp_path, document)
    with pytest.raises(ProviderError) as info:
        load_models_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {where}.{key}: unknown key")
    if meant is not None:
        assert f"did you mean {meant!r}?" in message


def test_a_partial_model_info_for_a_known_model_overrides_only_the_fields_it_names(
    tmp_path: Path,
) -> None:
    document = minimal(modelId="claude-sonnet-4-5", modelInfo={"maxTokens": 1024})
    info = load_models_config(write(tmp_path, document)).models["fast"].provider_config.model_info
    assert info == msgspec.structs.replace(MODELS["claude-sonnet-4-5"], max_tokens=1024)
    assert info is not None and info.input_price == 3.0  # the prices did not vanish


def test_create_provider_is_typed_as_the_anthropic_provider() -> None:
    # So that README's `async with create_provider(...)` / `aclose()` pass mypy --strict.
    import typing

    from provider.providers.anthropic import AnthropicProvider

    hints = typing.get_type_hints(create_provider, localns={"AnthropicProvider": AnthropicProvider})
    assert hints["return"] is AnthropicProvider


def test_defaults_for_enabled_and_provider(tmp_path: Path) -> None:
    config = load_models_config(write(tmp_path, minimal(modelId="claude-haiku-4-5")))
    entry = config.models["fast"]
    assert entry.enabled is True
    assert entry.provider == "anthropic"
    assert entry.provider_config.api_key is None
    assert entry.provider_config.base_url is None


def test_model_without_model_info_takes_the_table_entry(tmp_path: Path) -> None:
    config = load_models_config(write(tmp_path, TS_DOCUMENT))
    assert config.models["fast"].provider_config.model_info == MODELS["claude-haiku-4-5"]


def test_model_info_from_the_file_wins_over_the_table(tmp_path: Path) -> None:
    config = load_models_config(write(tmp_path, TS_DOCUMENT))
    info = config.models["main"].provider_config.model_info
    assert info is not None
    assert info.max_tokens == 8192  # the file's, not the table's 64K
    assert info.description == "Claude Sonnet 4.5"  # not named in the file: the table's


def test_one_hour_price_from_the_typescript_key(tmp_path: Path) -> None:
    info = {"inputPrice": 3, "cacheWritesPrice": 3.75, "cacheWrites1hPrice": 5}
    config = load_models_config(write(tmp_path, minimal(modelId="custom", modelInfo=info)))
    loaded = config.models["fast"].provider_config.model_info
    assert loaded is not None
    assert loaded.cache_writes_1h_price == 5.0


def test_accepts_a_path_string(tmp_path: Path) -> None:
    path = write(tmp_path, TS_DOCUMENT)
    assert load_models_config(str(path)) == load_models_config(path)


# ---------------------------------------------------------------------------------------------
# Errors name the file and the key path

ERROR_CASES: list[tuple[str, Any, str, str]] = [
    (
        "missing modelId",
        minimal(apiKey=FILE_KEY),
        "$.models.fast.providerConfig.modelId",
        "",
    ),
    (
        "empty modelId",
        minimal(modelId="", apiKey=FILE_KEY),
        "$.models.fast.providerConfig.modelId",
        "",
    ),
    (
        "modelId of the wrong type",
        minimal(modelId=5),
        "$.models.fast.providerConfig.modelId",
        "str",
    ),
    (
        "nested price of the wrong type",
        minimal(modelId="custom", apiKey=FILE_KEY, modelInfo={"inputPrice": "3.00"}),
        "$.models.fast.providerConfig.modelInfo.inputPrice",
        "float",
    ),
    (
        "nested max tokens of the wrong type",
        minimal(modelId="custom", modelInfo={"maxTokens": 1.5}),
        "$.models.fast.providerConfig.modelInfo.maxTokens",
        "int",
    ),
    (
        "active names no model",
        {"active": "nope", "models": {"fast": {"providerConfig": {"modelId": "claude-haiku-4-5"}}}},
        "$.active",
        "'nope'",
    ),
    (
        "active model disabled",
        {
            "active": "fast",
            "models": {
                "fast": {"enabled": False, "providerConfig": {"modelId": "claude-haiku-4-5"}}
            },
        },
        "$.models.fast",
        "disabled",
    ),
    (
        "missing active",
        {"models": {"fast": {"providerConfig": {"modelId": "claude-haiku-4-5"}}}},
        "$.active",
        "missing",
    ),
    ("models not an object", {"active": "fast", "models": []}, "$.models", "object"),
    ("missing providerConfig", {"active": "fast", "models": {"fast": {}}}, "$.models.fast", ""),
    (
        "enabled of the wrong type",
        {
            "active": "fast",
            "models": {"fast": {"enabled": "yes", "providerConfig": {"modelId": "m"}}},
        },
        "$.models.fast.enabled",
        "bool",
    ),
    (
        "a model name that is not an identifier",
        {"active": "my model", "models": {"my model": {"providerConfig": {"modelId": 5}}}},
        "$.models['my model'].providerConfig.modelId",
        "",
    ),
    (
        "unknown model without modelInfo",
        minimal(modelId="claude-imaginary-9", apiKey=FILE_KEY),
        "$.models.fast.providerConfig.modelInfo",
        "claude-imaginary-9",
    ),
    ("not JSON", '{"active": "fast", models: }', "", "JSON"),
    ("empty file", "", "", "JSON"),
    ("a list at the top", "[]", "$", "object"),
]


@pytest.mark.parametrize(
    ("document", "where", "problem"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_errors_name_the_file_and_the_key(
    tmp_path: Path, document: Any, where: str, problem: str
) -> None:
    path = write(tmp_path, document, "workspace-models.json")
    with pytest.raises(ProviderError) as info:
        load_models_config(path)
    text = str(info.value)
    assert str(path) in text
    assert where in text
    assert problem in text
    assert "FILEKEYONLY" not in text


def test_missing_modelid_error_ends_at_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, minimal(apiKey=FILE_KEY))
    with pytest.raises(ProviderError) as info:
        load_models_config(path)
    assert f"{path}: $.models.fast.providerConfig.modelId:" in str(info.value)


def test_disabled_active_model_error_names_the_enabled_key(tmp_path: Path) -> None:
    document = copy.deepcopy(TS_DOCUMENT)
    document["models"]["main"]["enabled"] = False
    with pytest.raises(ProviderError, match=r"\$\.models\.main\.enabled"):
        load_models_config(write(tmp_path, document))


def test_active_error_lists_the_models(tmp_path: Path) -> None:
    document = copy.deepcopy(TS_DOCUMENT)
    document["active"] = "slow"
    with pytest.raises(ProviderError) as info:
        load_models_config(write(tmp_path, document))
    assert "fast" in str(info.value) and "main" in str(info.value)


def test_a_disabled_model_may_be_loaded_when_it_is_not_active(tmp_path: Path) -> None:
    config = load_models_config(write(tmp_path, TS_DOCUMENT))
    assert config.models["fast"].enabled is False


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "models.json"
    with pytest.raises(ProviderError) as info:
        load_models_config(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value.__cause__, OSError)


def test_invalid_json_chains_the_decoder_error(tmp_path: Path) -> None:
    with pytest.raises(ProviderError) as info:
        load_models_config(write(tmp_path, "{"))
    assert isinstance(info.value.__cause__, msgspec.DecodeError)


def test_wrong_type_chains_the_validation_error(tmp_path: Path) -> None:
    document = minimal(modelId="custom", modelInfo={"inputPrice": "3"})
    with pytest.raises(ProviderError) as info:
        load_models_config(write(tmp_path, document))
    assert isinstance(info.value.__cause__, msgspec.ValidationError)


def test_loaded_table_info_is_not_shared_with_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_models_config(write(tmp_path, minimal(modelId="claude-sonnet-4-5")))
    info = config.models["fast"].provider_config.model_info
    assert info is not None
    # E.g. a caller capping the reply length for one workspace. monkeypatch puts the value back,
    # so the table is restored for later tests even while the bug is there. A frozen ModelInfo
    # (AttributeError) is a fine fix too.
    with contextlib.suppress(AttributeError):
        monkeypatch.setattr(info, "max_tokens", 1024)
    assert MODELS["claude-sonnet-4-5"].max_tokens == 64_000
    assert MODELS["claude-sonnet-4-5-20250929"].max_tokens == 64_000


# ---------------------------------------------------------------------------------------------
# create_provider


def test_create_provider_builds_the_active_model(tmp_path: Path) -> None:
    provider = create_provider(load_models_config(write(tmp_path, TS_DOCUMENT)))
    assert isinstance(provider, AnthropicProvider)
    assert provider.get_model().id == "claude-sonnet-4-5"
    info = provider.get_model().info
    assert info.max_tokens == 8192
    assert provider.calculate_cost(1000, 500) == pytest.approx(0.0105, rel=1e-12)


def test_create_provider_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_KEY)  # "fast" has no apiKey of its own
    document = copy.deepcopy(TS_DOCUMENT)
    document["models"]["fast"]["enabled"] = True
    config = load_models_config(write(tmp_path, document))
    provider = create_provider(config, "fast")
    assert provider.get_model().id == "claude-haiku-4-5"
    assert provider.get_model().info == MODELS["claude-haiku-4-5"]


def test_create_provider_refuses_a_disabled_model(tmp_path: Path) -> None:
    config = load_models_config(write(tmp_path, TS_DOCUMENT))
    with pytest.raises(ProviderError, match="'fast' is disabled"):
        create_provider(config, "fast")


def test_create_provider_unknown_name_lists_the_models(tmp_path: Path) -> None:
    config = load_models_config(write(tmp_path, TS_DOCUMENT))
    with pytest.raises(ProviderError) as info:
        create_provider(config, "slow")
    text = str(info.value)
    assert "'slow'" in text
    assert "fast" in text and "main" in text


def test_create_provider_unknown_provider_lists_the_known_ones(tmp_path: Path) -> None:
    document = copy.deepcopy(TS_DOCUMENT)
    document["models"]["main"]["provider"] = "openrouter"
    config = load_models_config(write(tmp_path, document))
    with pytest.raises(ProviderError) as info:
        create_provider(config)
    text = str(info.value)
    assert "'openrouter'" in text
    assert "anthropic" in text


def test_missing_api_key_falls_back_to_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_KEY)
    config = load_models_config(write(tmp_path, minimal(modelId="claude-haiku-4-5")))
    # The loader does not copy the environment into the config ...
    assert config.models["fast"].provider_config.api_key is None
    # ... the provider resolves it when it is built.
    provider = create_provider(config)
    assert isinstance(provider, AnthropicProvider)
    for text in (repr(provider), repr(provider.config), repr(config)):
        assert "ENVKEYONLY" not in text


def test_no_api_key_anywhere_is_an_error_naming_the_variable(tmp_path: Path) -> None:
    config = load_models_config(write(tmp_path, minimal(modelId="claude-haiku-4-5")))
    with pytest.raises(ProviderError, match="ANTHROPIC_API_KEY"):
        create_provider(config)


# The key that reaches the server: observed on the wire by a local server that answers 401,
# so no stream parsing is involved.


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]]

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        self.seen.append({"path": self.path, "x-api-key": self.headers.get("x-api-key", "")})
        body = json.dumps(
            {
                "type": "error",
                "error": {"type": "authentication_error", "message": "invalid x-api-key"},
                "request_id": "req_local",
            }
        ).encode()
        self.send_response(401)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.send_header("request-id", "req_local")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _stream_core_present() -> bool:
    try:
        from provider.stream import ChunkDecoder  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("file_key", "sent"), [(None, ENV_KEY), (FILE_KEY, FILE_KEY)], ids=["env-key", "file-key"]
)
async def test_the_key_sent_is_the_files_else_the_environments(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    recorder: tuple[str, list[dict[str, str]]],
    file_key: str | None,
    sent: str,
) -> None:
    if not _stream_core_present():
        pytest.skip("provider.stream.ChunkDecoder has not landed: create_message cannot run yet")
    url, seen = recorder
    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_KEY)
    provider_config: dict[str, Any] = {"modelId": "claude-haiku-4-5", "baseUrl": url}
    if file_key is not None:
        provider_config["apiKey"] = file_key
    provider = create_provider(load_models_config(write(tmp_path, minimal(**provider_config))))
    assert isinstance(provider, AnthropicProvider)
    async with provider:
        with pytest.raises(AuthenticationError) as info:
            async for _ in provider.create_message("system", [Message(role="user", content="Hi")]):
                pass
    assert [request["x-api-key"] for request in seen] == [sent]  # 401 is not retried
    assert seen[0]["path"] == "/v1/messages"
    assert info.value.status == 401
    assert "ENVKEYONLY" not in str(info.value) and "FILEKEYONLY" not in str(info.value)


@pytest.mark.parametrize(
    ("section", "key", "right"),
    [
        ("providerConfig", "auth_token", "authToken"),
        ("providerConfig", "base_url", "baseUrl"),
        ("providerConfig", "allow_insecure_http", "allowInsecureHttp"),
        ("modelInfo", "input_price", "inputPrice"),
        ("modelInfo", "cache_writes_1h_price", "cacheWrites1hPrice"),
    ],
)
def test_a_snake_case_key_is_refused_not_ignored(
    tmp_path: Path, section: str, key: str, right: str
) -> None:
    # Ignored, `auth_token` would let ANTHROPIC_API_KEY from the environment go to a gateway
    # that was meant to get a token.
    provider_config: dict[str, Any] = {"modelId": "claude-sonnet-4-5"}
    if section == "providerConfig":
        provider_config[key] = "x"
        where = "$.models.fast.providerConfig"
    else:
        provider_config["modelInfo"] = {key: 1.0}
        where = "$.models.fast.providerConfig.modelInfo"
    document = {"active": "fast", "models": {"fast": {"providerConfig": provider_config}}}
    with pytest.raises(ProviderError) as info:
        load_models_config(write(tmp_path, document))
    assert f"{where}.{key}" in str(info.value)
    assert right in str(info.value)

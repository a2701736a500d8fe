"""What each `provider_type` means: its wire format, default base URL and key header."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class WireFormat(enum.StrEnum):
    ANTHROPIC = "anthropic"
    OPENAI = "openai"


class KeyHeader(enum.StrEnum):
    X_API_KEY = "x-api-key"
    BEARER = "bearer"


@dataclass(frozen=True, slots=True)
class ProviderType:
    name: str
    format: WireFormat
    base_url: str
    key_header: KeyHeader
    # Anthropic's own API answers the OAuth and `create_api_key` endpoints.
    supports_oauth: bool = False


def _anthropic(name: str, base_url: str, key_header: KeyHeader = KeyHeader.BEARER) -> ProviderType:
    return ProviderType(name, WireFormat.ANTHROPIC, base_url, key_header)


def _openai(name: str, base_url: str) -> ProviderType:
    return ProviderType(name, WireFormat.OPENAI, base_url, KeyHeader.BEARER)


PROVIDER_TYPES: dict[str, ProviderType] = {
    t.name: t
    for t in (
        ProviderType(
            "anthropic",
            WireFormat.ANTHROPIC,
            "https://api.anthropic.com",
            KeyHeader.X_API_KEY,
            supports_oauth=True,
        ),
        _anthropic("z.ai", "https://api.z.ai/api/anthropic"),
        _anthropic("minimax", "https://api.minimax.io/anthropic"),
        _anthropic("kimi-coding", "https://api.kimi.com/coding"),
        _anthropic("zenmux", "https://zenmux.ai/api/anthropic"),
        _anthropic("deepseek", "https://api.deepseek.com/anthropic"),
        _anthropic("moonshot", "https://api.moonshot.ai/anthropic"),
        _anthropic("openrouter", "https://openrouter.ai/api"),
        _openai("openai", "https://api.openai.com/v1"),
        _openai("groq", "https://api.groq.com/openai/v1"),
        _openai("together", "https://api.together.xyz/v1"),
        _openai("fireworks", "https://api.fireworks.ai/inference/v1"),
        _openai("cerebras", "https://api.cerebras.ai/v1"),
        _openai("nvidia-nim", "https://integrate.api.nvidia.com/v1"),
        _openai("deepinfra", "https://api.deepinfra.com/v1/openai"),
        _openai("ollama", "http://127.0.0.1:11434/v1"),
        _openai("lmstudio", "http://127.0.0.1:1234/v1"),
    )
}

# Spellings other tools use for the same type.
ALIASES = {"zai": "z.ai", "kimi": "kimi-coding"}


def lookup(provider_type: str) -> ProviderType | None:
    key = provider_type.strip().lower()
    return PROVIDER_TYPES.get(ALIASES.get(key, key))

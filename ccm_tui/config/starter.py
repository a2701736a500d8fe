"""The commented config `ccm-tui init` writes: it loads with an empty environment."""

from __future__ import annotations

STARTER_CONFIG = """\
# ccm-tui configuration. Reference: the README's "Configuration" section.
# claude-code-mux's config.toml loads unchanged; ccm-tui's own keys are marked.

[server]
host = "127.0.0.1"        # loopback only; any other address needs api_key
port = 13456
# api_key = "$CCM_KEY"    # if set, clients must send it (x-api-key, Bearer or x-ccm-key)

[server.timeouts]
connect_timeout_ms = 10000
api_timeout_ms = 600000
# first_byte_timeout_ms = 60000      # ccm-tui: a stream that sends nothing this long fails over
# stream_idle_timeout_ms = 120000   # ccm-tui: a stalled stream is ended with an error

[router]
default = "sonnet"        # where claude-* model names go (auto_map_regex)
background = "haiku"      # Claude Code's haiku requests (background_regex)
# think = "opus"
# think_budget_tokens = 50000   # ccm-tui: route to `think` only when thinking asks for this many
# websearch = "sonnet"
# long_context = "sonnet"
# long_context_threshold = 60000

# Your Claude Code login, forwarded as it came (no key needed here).
[[providers]]
name = "claude"
provider_type = "anthropic"
auth_type = "passthrough"

# An Anthropic API key, used when the login is rate limited or down.
[[providers]]
name = "anthropic-api"
provider_type = "anthropic"
auth_type = "apikey"
api_key = "$ANTHROPIC_API_KEY"
enabled = false           # set true once ANTHROPIC_API_KEY is exported

[[models]]
name = "sonnet"
[[models.mappings]]
priority = 1
provider = "claude"
actual_model = "claude-sonnet-4-5"
[[models.mappings]]
priority = 2
provider = "anthropic-api"
actual_model = "claude-sonnet-4-5"

[[models]]
name = "haiku"
[[models.mappings]]
priority = 1
provider = "claude"
actual_model = "claude-haiku-4-5"

[tui]
theme = "ccm-dark"
history = 1000
"""

"""The OAuth subcommands: login, import, derive-key, use-oauth.

Each works on the config and the token store alone, then asks a proxy serving that
config (if one runs) to reload, so the change applies at once.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from ccm_tui.cli.common import EXIT_FAILED, EXIT_OK, load, tokens_override
from ccm_tui.config import Config
from ccm_tui.paths import display


def _token_store_path(args: argparse.Namespace, config: Config) -> Path:
    from ccm_tui.paths import default_token_store_path

    return tokens_override(args) or config.oauth.token_store or default_token_store_path()


def _oauth_command(
    args: argparse.Namespace,
    body: Callable[[Config, Any], Coroutine[Any, Any, int]],
) -> int:
    """Runs `body(config, token_manager)` with an HTTP client; OAuth errors, an unusable
    Claude Code login and an unusable token store become messages."""
    import httpx

    from ccm_tui.actions import ActionRefused
    from ccm_tui.auth import (
        ClaudeCodeCredentialsError,
        OAuthError,
        TokenManager,
        TokenStore,
        TokenStoreError,
    )
    from ccm_tui.masking import mask_text

    config = load(args)

    async def main() -> int:
        async with httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0)) as client:
            store = TokenStore(_token_store_path(args, config))
            manager = TokenManager(store, config.oauth, None, config.providers, client)
            try:
                return await body(config, manager)
            except (OAuthError, ActionRefused, ClaudeCodeCredentialsError, TokenStoreError) as err:
                print(f"ccm-tui: {mask_text(str(err))}", file=sys.stderr)
                return EXIT_FAILED

    return asyncio.run(main())


async def _notify_running_proxy(config: Config, done: str = "switched at once") -> str:
    """Asks a proxy already serving this config to reload it (and so re-read the token
    store), so a switch or a new login applies at once."""
    import httpx

    from ccm_tui.actions import Action, ActionRefused, Refusal
    from ccm_tui.control import RemoteControl

    host = config.server.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    control = RemoteControl(
        f"http://{shown}:{config.server.port}", config.server.api_key, timeout=httpx.Timeout(3.0)
    )
    try:
        await control.run(Action.RELOAD)
    except ActionRefused as err:
        if err.refusal is Refusal.UNAVAILABLE:
            return "no proxy is running on that config now; it takes effect when one starts"
        return f"the running proxy did not reload ({err.message}); restart it"
    finally:
        await control.aclose()
    return f"the proxy at {control.url} {done}"


def cmd_login(args: argparse.Namespace) -> int:
    from ccm_tui.actions import oauth_provider
    from ccm_tui.auth import Pkce, authorize_url
    from ccm_tui.humanize import countdown
    from ccm_tui.masking import mask

    async def body(config: Config, manager: Any) -> int:
        provider = oauth_provider(config, args.name)
        token_id = provider.oauth_provider or provider.name
        pkce = Pkce.new()
        kind = "Console" if args.console else "Claude Pro/Max"
        print(f"Log in to {kind} for provider {provider.name} (token id {token_id}):")
        print(f"\n  {authorize_url(config.oauth, pkce, args.console)}\n")
        print("Open the link, approve, then paste the code shown (CODE#STATE) here.")
        try:
            pasted = await asyncio.to_thread(input, "code: ")
        except EOFError:
            print("ccm-tui: no code given; nothing stored", file=sys.stderr)
            return EXIT_FAILED
        entry = await manager.complete_login(token_id, pasted, pkce)
        left = countdown(entry.expires_at_epoch - time.time())
        print(
            f"logged in: token {mask(entry.access_token)} stored as {token_id}, expires in {left}"
        )
        print(await _notify_running_proxy(config, "uses it at once"))
        return EXIT_OK

    return _oauth_command(args, body)


def cmd_import(args: argparse.Namespace) -> int:
    from ccm_tui.actions import oauth_provider
    from ccm_tui.auth import import_into_store, read_claude_code_login
    from ccm_tui.masking import mask
    from ccm_tui.paths import claude_code_credentials_path

    async def body(config: Config, manager: Any) -> int:
        provider = oauth_provider(config, args.name)
        token_id = provider.oauth_provider or provider.name
        path = claude_code_credentials_path()
        login = read_claude_code_login(path)
        if login is None:
            print(
                f"ccm-tui: no Claude Code login at {display(path)} (log in with `claude` first, "
                "or set CLAUDE_CONFIG_DIR)",
                file=sys.stderr,
            )
            return EXIT_FAILED
        entry = import_into_store(manager.store, token_id, login)
        print(f"imported Claude Code's login {mask(entry.access_token)} as {token_id}")
        print(
            "note: ccm-tui and Claude Code now share one refresh token; whichever refreshes "
            "first rotates it and the other must log in again. `ccm-tui login` avoids that."
        )
        print(await _notify_running_proxy(config, "uses it at once"))
        return EXIT_OK

    return _oauth_command(args, body)


def cmd_derive_key(args: argparse.Namespace) -> int:
    return _switch(args, derived=True)


def cmd_use_oauth(args: argparse.Namespace) -> int:
    return _switch(args, derived=False)


def _switch(args: argparse.Namespace, derived: bool) -> int:
    from ccm_tui.actions import switch_in_config

    async def body(config: Config, manager: Any) -> int:
        print(await switch_in_config(config, manager, args.name, derived))
        print(await _notify_running_proxy(config))
        return EXIT_OK

    return _oauth_command(args, body)

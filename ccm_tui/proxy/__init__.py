"""The aiohttp proxy: routing, forwarding, failover. Never imports Textual."""

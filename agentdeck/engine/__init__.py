"""agentdeck engine: the asyncio core (never imports Qt)."""

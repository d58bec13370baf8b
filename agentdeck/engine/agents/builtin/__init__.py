"""The built-in agent: its LLM loop, its tools and the host that runs them in a sandbox."""

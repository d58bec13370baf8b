"""agentdeck: supervise many AI coding agents from one desktop dashboard."""

__version__ = "0.1.0"

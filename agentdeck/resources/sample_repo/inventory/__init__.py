"""inventory: stock keeping for a small hardware shop."""

__version__ = "0.3.0"

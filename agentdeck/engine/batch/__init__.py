"""Batch files: the TOML parser with file:line errors, its checks and repo globs."""

"""The Docker runtime: one hardened container per attempt, on a pool of endpoints."""

"""Qt item models adapting engine snapshots (no domain state of their own)."""

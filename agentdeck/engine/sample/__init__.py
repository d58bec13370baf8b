"""The sample repository and the first-run demo batch."""

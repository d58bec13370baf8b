"""Configuration: agent profiles, providers, prices, secrets, the data dir and shipped resources."""

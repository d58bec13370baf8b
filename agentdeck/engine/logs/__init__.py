"""The task log: sequence numbers, parsing through the adapter, secret masking."""

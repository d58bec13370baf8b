"""Where a task runs: the embedded local runtime and the Docker runtime."""

"""What runs in a sandbox: adapters that build the command and read the agent's output."""

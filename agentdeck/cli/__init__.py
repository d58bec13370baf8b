"""The command line (`agentdeck`): a front end like the desktop, on the engine's facade only."""

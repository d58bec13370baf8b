"""agentdeck desktop app: PySide6 widgets over the `engine.api.Engine` facade."""

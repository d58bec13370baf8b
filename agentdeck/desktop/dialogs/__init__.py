"""The window's dialogs (new task, batch, settings with API keys, shortcuts): each takes
the `AppContext` and reports outcomes by signals; `agentdeck.desktop.window.open_dialogs` opens them."""

"""agentdeck desktop app: PySide6 widgets over the `agentdeck.engine.api.Engine` facade.

``app`` starts it (``python -m agentdeck.desktop``, the ``agentdeck-gui`` script). Shared by every
part: ``context`` (what widgets get: engine, task runner, UI state), ``bridge`` (engine
events to Qt signals, once per frame), ``commands`` (every user command with its keys),
``ui_state`` (the window's own preferences), ``asyncutil`` and ``gc_guard`` (running
coroutines and garbage collection safely under Qt). Features, one package each:
``window``, ``tasks``, ``wall``, ``log``, ``review``, ``dialogs``; ``widgets`` holds the
small pieces they share.
"""

"""agentdeck desktop app: PySide6 widgets over the `agentdeck.engine.api.Engine` facade.

``app`` starts it (``python -m agentdeck.desktop``, the ``agentdeck-gui`` script). Shared by every
part: ``context`` (what widgets get: engine, task runner, UI state), ``bridge`` (engine
events to Qt signals, once per frame), ``commands`` (every user command with its keys),
``ui_state`` (the window's own preferences), ``asyncutil`` and ``gc_guard`` (running
coroutines and garbage collection safely under Qt). Features, one package each:
``window``, ``tasks``, ``wall``, ``log``, ``review``, ``dialogs``; ``widgets`` holds the
small pieces they share.
"""

# Before anything imports PySide6: once loaded, its __feature__ import hook reads the source
# of every module imported after it (looking for "PySide6"). The engine's few hundred
# modules need not pay for that: about a tenth of the desktop's import time.
import agentdeck.engine.api  # noqa: E402,F401

"""What every window part needs: the engine facade, the event bridge, the task runner."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from agentdeck.desktop.asyncutil import TaskRunner
from agentdeck.desktop.bridge import Bridge
from agentdeck.desktop.ui_state import UiState

if TYPE_CHECKING:
    from agentdeck.engine.api import Engine


@dataclass(frozen=True)
class AppContext:
    """Shared handles, passed to widgets instead of globals.

    Attributes:
        engine: the facade; the only way the UI reads or changes anything.
        bridge: engine events as coalesced Qt signals.
        runner: starts coroutines and reports their errors.
        ui_state: persisted UI state.
    """

    engine: "Engine"
    bridge: Bridge
    runner: TaskRunner
    ui_state: UiState

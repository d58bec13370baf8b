"""The entry script of the frozen build (PyInstaller runs it as ``__main__``).

One script for both executables of the bundle: ``agentdeck-gui`` starts the desktop app,
``agentdeck`` the command line. Either runs the local runtime's Python helpers when started
as their interpreter (see agentdeck.engine.runtimes.local.frozen), before Qt is loaded.
"""
import os
import sys

from agentdeck.engine.runtimes.local.frozen import run_as_python


def main() -> int:
    status = run_as_python(sys.argv)
    if status is not None:
        return status
    if os.path.basename(sys.executable) == "agentdeck-gui":
        from agentdeck.desktop.app import main as gui_main
        return gui_main()
    from agentdeck.cli.main import main as cli_main
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())

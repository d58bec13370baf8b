"""``python -m agentdeck.desktop`` starts the agentdeck desktop app."""
import sys

from agentdeck.desktop.app import main

sys.exit(main())

"""``python -m desktop`` starts the agentdeck desktop app."""
import sys

from desktop.app import main

sys.exit(main())

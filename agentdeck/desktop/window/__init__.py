"""The main window: its tabs, menus and toolbar, status bar and desktop notifications."""

"""The task list: its Qt model and filter, the filter bar, the details pane, the
selected task's view and the actions on selected tasks."""

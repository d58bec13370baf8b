"""The Storage tab: the disk the tasks' files take and a clean-up running `gc`."""

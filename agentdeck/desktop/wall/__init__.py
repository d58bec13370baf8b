"""The wall: one live tile per running task."""

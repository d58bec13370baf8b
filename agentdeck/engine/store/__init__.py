"""SQLite: one writer thread, the schema and its migrations, write functions, error classification."""

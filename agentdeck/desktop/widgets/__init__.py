"""Small widgets and helpers every feature uses: theme, icons, plain-text labels,
elided labels, number and time formats (no engine calls)."""

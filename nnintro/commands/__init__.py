"""What each command does, one module per command; the CLI and the notebook call these. Only `train` is imported
by other commands (compare and sweep train the runs they need)."""

"""The run folder, read and written only here: its names, creation, lock and search (layout), the Run a finished
folder is read back as (run), and the checkpoint with the weights (checkpoint)."""

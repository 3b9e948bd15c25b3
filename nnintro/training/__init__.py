"""The fit loop and what it steps with: trainer (prepare and epochs), step, members, outputs on a split, the
numpy engine, devices and torchrun, and the reference models fitted beside table runs."""

"""`python -m nnintro` (and `torchrun -m nnintro`) runs the CLI."""
from nnintro.cli import main

main()

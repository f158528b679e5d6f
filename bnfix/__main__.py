"""`python -m bnfix` runs the command-line interface."""

from bnfix.cli import main

main()

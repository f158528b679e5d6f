"""`python -m bnfix` runs the command-line interface."""

from bnfix.cli import main

if __name__ == "__main__":  # not when multiprocessing's spawn re-imports it in `bnfix server`'s worker
    main()

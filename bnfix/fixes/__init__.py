"""Building replacement code that keeps the layout around it: fixes, call-argument edits, statement edits."""

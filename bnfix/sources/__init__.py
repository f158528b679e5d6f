"""Reading what bnfix works on: file discovery, exact reading and atomic writing, notebooks and their magics, suppression comments, the syntax pre-check."""

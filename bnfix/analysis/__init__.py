"""What rules ask of a parsed module, computed once per module: names and imports, bindings, layer chains, data flow, sample counts."""

"""One ComponentResource per file, one concern each; `stack.build` wires them together."""

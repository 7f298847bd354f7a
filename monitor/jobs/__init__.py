"""The imperative shell: one module per kind of pass. Each reads the clock and calls pure core."""

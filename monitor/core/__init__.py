"""Pure rules: no I/O, no clock. Every function that depends on time takes `now`."""

"""pytest glue for end-to-end stacks (options, shared stack across xdist workers)."""

"""End-to-end tests: a whole floe stack (local processes, kind, or an existing deployment)."""

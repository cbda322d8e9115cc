"""End-to-end stack providers: local processes, a kind cluster, or an existing deployment."""

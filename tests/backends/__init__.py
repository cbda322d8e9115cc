"""One module per compute backend: its preflight checks and ``dbt build`` of the demo on it."""

"""pytest glue for preflight (report table, JSON report, JUnit properties)."""

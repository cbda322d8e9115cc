"""Plain-Python clients of the stack's APIs (Cube REST, Dagster GraphQL); no pytest here."""

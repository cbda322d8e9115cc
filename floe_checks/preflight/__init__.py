"""Preflight: real connectivity checks of the services an environment names."""

"""Subcommands of the ``floe`` CLI, one module each."""

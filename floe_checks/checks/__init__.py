"""Check modules bundled with the plugin; collected whenever a floe environment is selected."""

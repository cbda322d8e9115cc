"""Launchers for real local servers (PostgreSQL, emulators, Dagster, Cube).

Every server binds 127.0.0.1 on a free port, logs to a file, runs in its own process group and
is stopped by its PID.
"""

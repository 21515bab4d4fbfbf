"""Subcommands of the ``session-core`` CLI, one module each (see ``session_core.cli``)."""

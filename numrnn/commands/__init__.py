"""Subcommands of ``python -m numrnn``; one module per command."""

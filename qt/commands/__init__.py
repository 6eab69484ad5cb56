"""Subcommands of the `qt` CLI other than `run`: one module each, registered in qt/cli.py."""

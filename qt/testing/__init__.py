"""Helpers for testing qt and plugins: tiny hand-made panels and service checks."""

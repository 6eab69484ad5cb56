"""Reporting: telling people how a run went."""

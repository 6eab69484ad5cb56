"""Strategies: from a panel of bars to raw target weights at each decision."""

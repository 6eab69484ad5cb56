"""Labels for supervised learning: triple-barrier outcomes and meta-labels (forward-looking by design)."""

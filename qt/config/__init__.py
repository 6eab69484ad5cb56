"""Config: composing search paths, safe instantiation and run-level settings."""

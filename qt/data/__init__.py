"""Market data: the bar schema, the [T x N] panel, and the sources that load it."""

"""Built-in signals (momentum, mean reversion, volatility, transforms, combinators) and their registry."""

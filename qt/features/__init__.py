"""Features and signals: causal [T x N] panels computed once over the whole history."""

"""The fill model: when orders fill (close or next open), at what price (slippage) and for what fees (costs)."""

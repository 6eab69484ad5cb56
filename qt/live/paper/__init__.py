"""The paper broker: simulated fills with the backtest's fill model and a durable book of its own (broker.py), and its adapter for the live node (adapter.py)."""

"""The backtest: execution simulation, accounting, the event loop and its metrics."""

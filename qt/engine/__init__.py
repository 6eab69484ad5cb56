"""The loop backtest and live share: the decision pipeline, the execution-venue protocol and the session."""

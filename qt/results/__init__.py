"""What a run produced (one RunResult for backtest and live) and the run folder's files written from it."""

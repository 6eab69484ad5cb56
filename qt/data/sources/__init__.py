"""Data sources: each turns one kind of input into a validated BarPanel."""

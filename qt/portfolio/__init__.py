"""Portfolio construction, from raw target weights to the book to hold: naive.py, heuristics.py, convex/."""

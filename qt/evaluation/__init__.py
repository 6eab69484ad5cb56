"""Evaluation of finished runs: performance analytics, the HTML tearsheet and sweep leaderboards."""

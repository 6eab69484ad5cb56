"""Risk: turning target weights into orders, and the limits that orders must respect."""

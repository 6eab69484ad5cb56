"""Live trading: the driver, feeds, order router, risk guard, paper broker and the durable state store."""

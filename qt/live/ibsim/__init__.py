"""qt's TWS gateway simulator: a real TCP server speaking the TWS API, for tests and rehearsals (``qt ib-gateway``).

It stands apart from the IB adapter (``qt.live.ib``): neither imports the other, so the adapter is
tested against the wire protocol, not against shared code.
"""

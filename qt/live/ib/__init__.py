"""Interactive Brokers: the TWS-protocol gateway simulator (``qt ib-gateway``) and the IB venue and feed on ib_async."""

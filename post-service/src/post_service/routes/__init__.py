"""HTTP routes: public (forwarded by the gateway) and internal (service to service)."""

"""Public route declarations, one module per area of the contract."""

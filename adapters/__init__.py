"""itdose.adapters."""

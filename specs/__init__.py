"""itdose.specs."""

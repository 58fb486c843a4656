"""itdose.proofs."""

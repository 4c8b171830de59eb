"""Tests of the pure ledger core: canonical bytes, chain, Merkle trees, notes, the export verifier."""

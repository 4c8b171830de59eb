"""The pure core of the ledger: canonical encoding, chain, Merkle trees, signed notes, the auditor's verifier.

Standard library and `cryptography` only, so `export` can ship these modules to an auditor as they are.
"""

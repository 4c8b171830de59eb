"""Migration scripts, applied in order by `ledger.db.upgrade`."""

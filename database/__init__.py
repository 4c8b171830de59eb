"""The database layer shared by `ledger` and `state`: engines, the declarative base, time format, migrations."""

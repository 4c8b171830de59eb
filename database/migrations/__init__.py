"""Alembic migrations of the ledger schema, shipped inside the package (`bookings-ledger db upgrade`)."""

"""The declarative base of every table, and the column types the tables share.

One Alembic history (`database/migrations`) creates the tables of `ledger` and of `state`.
"""
from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase

REF = String(64)
TIME = String(32)   # database.times format
NAME = String(64)


class Base(DeclarativeBase):
    """Declarative base of all the service's models."""

"""FRAME: the integrity pages (filled by their part)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("integrity", __name__)

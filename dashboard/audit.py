"""FRAME: the audit pages (filled by their part)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("audit", __name__)

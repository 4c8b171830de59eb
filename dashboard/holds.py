"""FRAME: the holds pages (filled by their part)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("holds", __name__)

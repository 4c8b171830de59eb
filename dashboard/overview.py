"""FRAME: the overview pages (filled by their part)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("overview", __name__)

"""FRAME: the retention pages (filled by their part)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("retention", __name__)

"""FRAME: the notices pages (filled by their part)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("notices", __name__)

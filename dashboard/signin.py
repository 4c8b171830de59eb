"""FRAME: the signin pages (filled by their part)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("signin", __name__)

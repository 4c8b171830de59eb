"""FRAME: the charts pages (filled by their part)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("charts", __name__)

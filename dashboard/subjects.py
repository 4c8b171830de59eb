"""FRAME: the subjects pages (filled by their part)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("subjects", __name__)

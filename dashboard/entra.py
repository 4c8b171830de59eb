"""FRAME: the entra pages (filled by their part)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("entra", __name__)

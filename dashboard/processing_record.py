"""FRAME: the processing_record pages (filled by their part)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("processing_record", __name__)

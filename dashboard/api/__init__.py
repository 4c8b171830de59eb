"""The JSON API at /api/v1 (blueprint `api`): data-subject requests for automations, with bearer tokens.

    operations.py  how a view is declared (scopes, models, answers), and the blueprint `bp`
    auth.py        the bearer token check the role guard asks before every API view
    models.py      the pydantic models of every body, query and answer
    requests.py    /requests and each request's decisions, through ledger/requests.py
    openapi.py     /openapi.json, generated from the declarations (docs/api.md)
"""
from __future__ import annotations

from dashboard.api import openapi, requests
from dashboard.api.operations import bp

__all__ = ["bp", "openapi", "requests"]   # importing the views is what routes them on `bp`

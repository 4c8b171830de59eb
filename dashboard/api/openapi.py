"""GET /api/v1/openapi.json: the OpenAPI 3.1 document, built from the declared operations and their
pydantic models (dashboard/api/operations.py), so what it says is what the views do.

Like every API route it needs a token (any scope): the document is no secret, but a route
that answers anonymous callers is one more thing to keep apart.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from dashboard.api.models import Problem
from dashboard.api.operations import OPERATIONS, Answer, Operation, bp, operation
from state.api_tokens import SCOPES

VERSION = "1.0.0"
REF = "#/components/schemas/{model}"
PROBLEM_TITLES = {400: "Bad request", 401: "No valid API token", 403: "The token lacks the scope",
                  404: "No such request", 409: "The request's state does not allow it",
                  422: "The body or query does not fit this document"}


class Document(BaseModel):
    """The OpenAPI document (its schema is OpenAPI's own, not repeated here)."""

    model_config = {"extra": "allow"}
    openapi: str


@operation("GET", "/openapi.json", SCOPES, answers={200: Document})
def openapi_document() -> Answer:
    """This document."""
    return Document(**document()), 200


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every declared operation."""
    keys, schemas = _schemas()
    paths: dict[str, dict[str, Any]] = {}
    for declared in OPERATIONS:
        paths.setdefault(f"{bp.url_prefix}{declared.path}", {})[declared.method.lower()] = _operation(declared, keys)
    return {
        "openapi": "3.1.0",
        "info": {"title": "bookings-ledger API", "version": VERSION,
                 "description": "Data-subject requests for automations. Every route needs a bearer token "
                                "(`bookings-ledger token create`) holding one of the scopes it names."},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
        "security": [{"token": []}],
    }


def _schemas() -> tuple[dict[tuple[type[BaseModel], str], dict[str, Any]], dict[str, Any]]:
    models = {(declared.body, "validation") for declared in OPERATIONS if declared.body} | \
             {(model, "serialization") for declared in OPERATIONS for model in declared.answers.values()} | \
             {(Problem, "serialization")}
    models.discard((Document, "serialization"))      # OpenAPI's own schema; described as an object
    keys, top = models_json_schema(sorted(models, key=lambda pair: pair[0].__name__), ref_template=REF)
    schemas = {**top.get("$defs", {}), "Document": {"type": "object", "required": ["openapi"]}}
    keys = {**keys, (Document, "serialization"): {"$ref": REF.format(model="Document")}}
    return keys, schemas


def _operation(declared: Operation, keys: dict[tuple[type[BaseModel], str], dict[str, Any]]) -> dict[str, Any]:
    described: dict[str, Any] = {
        "operationId": declared.endpoint.split(".")[-1], "summary": declared.summary,
        "description": f"Token scope: {' or '.join(sorted(declared.scopes))}.",
        "parameters": _parameters(declared),
        "responses": {str(status): {"description": model.__doc__.strip().splitlines()[0] if model.__doc__ else model.__name__,
                                    "content": {"application/json": {"schema": keys[(model, "serialization")]}}}
                      for status, model in declared.answers.items()},
    }
    problem = keys[(Problem, "serialization")]
    for status in declared.problems:
        described["responses"][str(status)] = {"description": PROBLEM_TITLES[status],
                                               "content": {"application/problem+json": {"schema": problem}}}
    if declared.body is not None:
        described["requestBody"] = {"required": True,
                                    "content": {"application/json": {"schema": keys[(declared.body, "validation")]}}}
    return described


def _parameters(declared: Operation) -> list[dict[str, Any]]:
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
                  for name in _path_names(declared.path)]
    if declared.query is not None:
        schema = declared.query.model_json_schema(ref_template=REF)
        parameters += [{"name": name, "in": "query", "required": name in schema.get("required", ()), "schema": field}
                       for name, field in schema["properties"].items()]
    return parameters


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]

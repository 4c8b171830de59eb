"""How an API view is declared: once, with everything the OpenAPI document says about it.

    @operation("POST", "/requests/{request_id}/refusal", (WRITE,), body=Refusal, answers={200: Request},
               problems=(404, 409))
    def refuse_request(request_id: str, body: Refusal) -> Answer: ...

`operation` routes the view on the blueprint `bp` (under /api/v1), marks it with its token scopes
for the role guard (dashboard.roles.scoped), parses its body and query into the declared models
(422 with what is wrong, never the value sent), and serialises what it returns. It refuses, as a
500, to answer with a status or a model the declaration does not name, so a view cannot answer
outside the document; `OPERATIONS` is what dashboard/api/openapi.py builds the document from.
Every operation may also answer 401 and 403 (dashboard/api/auth.py) and 422.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps

from flask import Blueprint, Response, request
from pydantic import BaseModel, ValidationError

from dashboard.api.models import FieldProblem, Problem
from dashboard.roles import scoped

bp = Blueprint("api", __name__, url_prefix="/api/v1")
ALWAYS = (401, 403, 422)    # every operation: no or a bad token, a token without the scope, a bad body or query
Answer = tuple[BaseModel, int]


@dataclass(frozen=True)
class Operation:
    """One method on one path, as the document states it."""

    method: str
    path: str                                  # OpenAPI form, under /api/v1: /requests/{request_id}
    endpoint: str
    summary: str
    scopes: frozenset[str]
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    answers: Mapping[int, type[BaseModel]]
    problems: tuple[int, ...]


class ApiProblem(Exception):
    """Raised by a view to answer with problem details; `status` must be among its declared problems."""

    def __init__(self, status: int, title: str, detail: str | None = None,
                 errors: list[FieldProblem] | None = None) -> None:
        super().__init__(title)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors


OPERATIONS: list[Operation] = []


def operation(method: str, path: str, scopes: tuple[str, ...], *, answers: Mapping[int, type[BaseModel]],
              body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
              problems: tuple[int, ...] = ()) -> Callable[[Callable[..., Answer]], Callable[..., Response]]:
    """Declare, route and guard an API view (see the module docstring)."""

    def declare(view: Callable[..., Answer]) -> Callable[..., Response]:
        declared = Operation(method, path, f"{bp.name}.{view.__name__}", (view.__doc__ or "").strip().splitlines()[0],
                             frozenset(scopes), body, query, answers, tuple(sorted(set(problems) | set(ALWAYS))))
        OPERATIONS.append(declared)

        @wraps(view)
        def answered(**path_values: str) -> Response:
            try:
                parsed = _parsed(declared)
                model, status = view(**path_values, **parsed)
            except ApiProblem as raised:
                return answer_problem(declared, raised)
            if answers.get(status) is not type(model):
                raise TypeError(f"{declared.endpoint} answered {status} {type(model).__name__}, outside its declaration")
            return Response(model.model_dump_json(), status=status, mimetype="application/json")

        flask_rule = re.sub(r"\{(\w+)\}", r"<\1>", path)
        bp.add_url_rule(flask_rule, view.__name__, scoped(*scopes)(answered), methods=[method])
        return answered

    return declare


def problem_response(status: int, title: str, detail: str | None = None,
                     errors: list[FieldProblem] | None = None) -> Response:
    """An `application/problem+json` response; `detail` and `errors` must never carry personal data."""
    body = Problem(title=title, status=status, detail=detail, errors=errors)
    return Response(body.model_dump_json(exclude_none=True), status=status, mimetype="application/problem+json")


def answer_problem(declared: Operation, raised: ApiProblem) -> Response:
    """The problem a view raised, if its declaration names the status."""
    if raised.status not in declared.problems:
        raise TypeError(f"{declared.endpoint} answered {raised.status}, outside its declaration")
    return problem_response(raised.status, raised.title, raised.detail, raised.errors)


def _parsed(declared: Operation) -> dict[str, BaseModel]:
    """The body and query the operation declares, parsed; ApiProblem 422 when they do not fit."""
    parsed: dict[str, BaseModel] = {}
    try:
        if declared.body is not None:
            parsed["body"] = declared.body.model_validate_json(request.get_data() or b"{}")
        if declared.query is not None:
            parsed["query"] = declared.query.model_validate(request.args.to_dict())
    except ValidationError as invalid:
        raise _unprocessable(invalid) from None
    return parsed


def _unprocessable(invalid: ValidationError) -> ApiProblem:
    # pydantic's `input` and `ctx` may quote what was sent (an email address): only where and what.
    errors = [FieldProblem(location=list(error["loc"]), message=error["msg"])
              for error in invalid.errors(include_url=False, include_input=False, include_context=False)]
    return ApiProblem(422, "Unprocessable Content", "the request does not fit the API's document", errors)

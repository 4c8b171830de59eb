"""Schemathesis against /api/v1/openapi.json, on each backend: whatever the document allows a caller
to send, the API answers without a 5xx and only as the document says (status, content type,
headers, body schema). The document is loaded through the API itself, with a token."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings, strategies
from schemathesis import checks

EXAMPLES = 40   # per operation: a few seconds each, enough to reach every branch of a body
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance, checks.response_headers_conformance]


@pytest.fixture
def token_headers(bearer) -> dict[str, str]:
    return bearer()


def test_the_api_answers_only_as_its_document_says(api_app, token_headers):
    """Every operation of the document, its cases generated from the document's own schemas."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_app, headers=token_headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8   # every route; schemathesis leaves out the document's own

    known = _requests_in_every_open_state(api_app)
    for operation in operations:
        @given(case=operation.as_strategy(), existing=strategies.sampled_from(known) | strategies.none())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def answers_as_documented(case, existing: str | None) -> None:
            if existing is not None and "request_id" in (case.path_parameters or {}):
                case.path_parameters = {"request_id": existing}   # a real request too, not only 404s
            case.call_and_validate(headers=token_headers, checks=CHECKS)

        answers_as_documented()


def test_the_document_is_openapi_3_1_and_covers_every_api_route(api_app, token_headers):
    """Generated from the declarations: every route of the blueprint is in it, with its methods."""
    document = api_app.test_client().get("/api/v1/openapi.json", headers=token_headers).get_json()
    assert document["openapi"] == "3.1.0"
    routed = {(rule.rule.replace("<", "{").replace(">", "}"), method.lower())
              for rule in api_app.url_map.iter_rules() if rule.endpoint.startswith("api.")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert routed == documented


def _requests_in_every_open_state(app) -> list[str]:
    """Ids of a draft, a request awaiting verification, a verified one and a duplicate."""
    from dashboard.context import context
    from ledger import requests

    with app.app_context():
        ledger, rules = context().ledger, requests.RequestRules.from_settings(context().settings)
    with ledger.transaction() as tx:
        draft = requests.receive(tx, requests.Intake("access", "email", email="d@example.org", draft=True), rules)
        waiting = requests.receive(tx, requests.Intake("erasure", "cli", email="w@example.org"), rules)
        duplicate = requests.receive(tx, requests.Intake("erasure", "cli", email="w@example.org"), rules)
        verified = requests.receive(tx, requests.Intake("access", "cli", phone="+353 1 234 5678"), rules)
        requests.verify(tx, verified.request_id, method="officer", data_points=["phone"], by="tests")
    return [draft.request_id, waiting.request_id, duplicate.request_id, verified.request_id]

"""Fuzz the partner API from its own OpenAPI document (schemathesis) against the live server:
no server errors, and every answer matches the document (status, content type, schema) —
for data that fits the document and for data that does not."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from partners.openapi import DOCUMENT
from tests.partners_helpers import live_url, unlimited_app, world  # noqa: F401
from tests.pii_scan import find_personal_data

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@pytest.fixture
def app(unlimited_app):
    return unlimited_app


def test_no_server_errors_and_answers_match_the_document(live_url, world):
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {world['key']}"
    for operation in OPERATIONS:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def fuzz(case):
                # A random id or code that reads as a mobile number would be echoed in the
                # access log (or the answer) and taken by the personal-data scan for a leak.
                assume(not find_personal_data(f"{case.formatted_path} {case.query} {case.body}"))
                case.call_and_validate(base_url=f"{live_url}/api/partners/v1", session=http, checks=CHECKS, timeout=10)

            fuzz()

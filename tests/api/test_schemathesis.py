"""Schemathesis drives the API from its own OpenAPI document (positive and negative cases)
and fails on any 5xx, undocumented status, wrong content type or body that does not match
the document. Bounded: a few dozen examples per operation, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app import clock
from app.services.accounts.tokens import create_token
from app.services.intake.drafts import ListEntryDraft
from app.services.lists.entries import enter

PERSON = "371082199001010017"  # the examples in the OpenAPI document name these
COMPANY = "91371082MA3C00001H"


@pytest.fixture
def api_token(db, rulebook, make_subject) -> str:
    """A court token, and the subjects and list entry that the document's examples name."""
    with db() as s:
        make_subject(s, subject_id=PERSON, name="Wang Wei")
        make_subject(s, subject_id=COMPANY, kind="organisation", name="Haiyang Fisheries",
                     legal_representative=PERSON)
        enter(
            s, ListEntryDraft(subject_id=COMPANY, list_code="court-defaulters",
                              entered_on=clock.today() - timedelta(days=30),
                              decision_ref="(2026) Zhi 1"),
            rulebook=rulebook, department="court", today=clock.today(), actor="seed")
        return create_token(s, rulebook=rulebook, department="court", actor="seed").secret


EXAMPLES = 25  # per operation and generation mode: about 450 requests per database


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["positive", "negative"])
def test_the_api_matches_its_openapi_document(app, api_token, mode):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {api_token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8  # every path of the document (it may group them)
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            # A well-formed request may still name an unknown subject or code, and 422 is
            # right then: "positive data is accepted" cannot hold. Every other check does.
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        try:
            check()
        except Unsatisfiable:
            # Nothing to make invalid: the operation takes no parameters and no body.
            assert mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters()) \
                and not operation.body, operation.label

"""Typed drafts: the file reader parses each value once and keeps its line; a value it
cannot read is None with the reason, for the service to report with the row's other problems."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from app.services.intake.drafts import (
    LIST_ENTRY_FILE,
    RECORD_FILE,
    SUBJECT_FILE,
    ListEntryDraft,
    RecordDraft,
    SubjectDraft,
    read_drafts,
)
from app.services.intake.text import _field_problems, draft_text_problems


def test_a_record_file_becomes_typed_drafts_with_their_lines():
    data = (b"subject_id,rule_code,occurred_on,evidence,external_ref\n"
            b"371082199001010017,TRAFFIC-TICKET,2026-01-05,photo 1,TP-1\n"
            b"\n"
            b"371082199001010017,TRAFFIC-TICKET,2026-02-30,,\n")
    first, second = read_drafts(data, name="tp.csv", kind=RECORD_FILE)
    assert first == RecordDraft("371082199001010017", "TRAFFIC-TICKET", date(2026, 1, 5),
                                "photo 1", "TP-1", line=2)
    assert (second.line, second.occurred_on) == (4, None)
    assert "not a date on the calendar" in second.why_unread("occurred_on")
    json_lines = b'{"subject_id": "X", "rule_code": "C", "occurred_on": "2026-03-01"}\n'
    (only,) = read_drafts(json_lines, name="tp.jsonl", kind=RECORD_FILE)
    assert (only.occurred_on, only.line, only.unread) == (date(2026, 3, 1), 1, ())


def test_list_entries_and_subjects_read_their_own_values():
    entries = read_drafts(b"subject_id,list_code,entered_on,ends_on,decision_ref\n"
                          b"X,court-defaulters,2026-06-01,,D-1\n"
                          b"Y,court-defaulters,2026-06-01,soon,D-2\n",
                          name="court.csv", kind=LIST_ENTRY_FILE)
    assert entries[0] == ListEntryDraft("X", "court-defaulters", date(2026, 6, 1), None,
                                        decision_ref="D-1", line=2)
    assert entries[1].ends_on is None and "'soon' is not a date" in entries[1].why_unread(
        "ends_on")
    subjects = read_drafts(b"subject_id,kind,name,consent\nX,person,Wang,yes\nY,person,Li,\n"
                           b"Z,person,Zhao,maybe\n", name="register.csv", kind=SUBJECT_FILE)
    assert [s.consent for s in subjects] == [True, False, None]
    assert subjects[0] == SubjectDraft("X", "person", "Wang", consent=True, line=2)
    assert "'maybe' is not yes or no" in subjects[2].why_unread("consent")


_TEXT = st.text(alphabet=st.sampled_from(["a", "证", " ", "\t", "\n", "\r", "\x00", "\x0b",
                                          "\x1f", "\x7f", "\x85", "\x9f", "\xa0", "\u2028"]),
                max_size=4)


@settings(max_examples=300)
@given(_TEXT, _TEXT, _TEXT, _TEXT, st.none() | _TEXT)
def test_a_drafts_text_searched_at_once_finds_what_each_field_searched_finds(a, b, c, d, e):
    """The fast path (one search over a draft's one-line text, one over its free text) finds
    a problem exactly when the field-by-field check does, and then gives its problems."""
    for draft in (RecordDraft(a, b, None, c, d),
                  SubjectDraft(a, b, c, d, legal_representative=e),
                  ListEntryDraft(a, b, None, None, c, d, e or "")):
        assert list(draft_text_problems(draft)) == list(_field_problems(draft))

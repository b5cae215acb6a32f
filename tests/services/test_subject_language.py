"""A subject's language: the register's column, the resident's choice, else the scheme's."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.errors import InvalidInput
from app.models import Subject
from app.services.subjects.consent import notice_language, set_language
from app.services.subjects.register import import_subjects_file

HEAD = "subject_id,kind,name,district,village,legal_representative,consent"
PERSON = "11010519491231002X"
OTHER = "110101199003070011"


def _import(session, text):
    return import_subjects_file(session, data=text.encode(), name="people.csv", actor="test",
                                department=None)


def test_the_register_may_name_a_language_and_may_leave_it_out(session):
    _import(session, f"{HEAD},language\n{PERSON},person,Wang Fang,,,,yes,zh\n"
                     f"{OTHER},person,Li Lei,,,,yes,\n")
    assert session.get(Subject, PERSON).language == "zh"
    assert session.get(Subject, OTHER).language is None
    # A file without the column (or with it empty) keeps the language a subject has.
    _import(session, f"{HEAD}\n{PERSON},person,Wang Fang,Yatou,,,yes\n")
    session.expire_all()
    assert session.get(Subject, PERSON).language == "zh"
    with pytest.raises(InvalidInput) as caught:
        _import(session, f"{HEAD},language\n{PERSON},person,Wang Fang,,,,yes,fr\n")
    assert "'fr' is not a language: write en or zh" in str(caught.value.problems[0])


def test_the_language_falls_back_to_the_schemes_first(session, rulebook):
    _import(session, f"{HEAD}\n{PERSON},person,Wang Fang,,,,yes\n")
    subject = session.get(Subject, PERSON)
    assert notice_language(subject, rulebook.scheme) == "en"  # the test rulebook names none
    zh_first = replace(rulebook.scheme, languages=("zh", "en"))
    assert notice_language(subject, zh_first) == "zh"
    set_language(session, subject_id=PERSON, language="en", actor="resident")
    session.expire_all()
    assert notice_language(session.get(Subject, PERSON), zh_first) == "en"
    with pytest.raises(InvalidInput):
        set_language(session, subject_id=PERSON, language="xx", actor="resident")

"""Subject identifiers: Resident Identity Card numbers and Unified Social Credit Codes.

Check digits are python-stdnum's (stdnum.cn.ric and stdnum.cn.uscc): a maintained
implementation of GB 11643 and GB 32100, rather than a hand-written checksum.
"""

from __future__ import annotations

import re

from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric, uscc

PERSON = "person"
ORGANISATION = "organisation"
KINDS = (PERSON, ORGANISATION)

_ID_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")


class InvalidIdentifier(ValueError):
    """An identifier that is not a valid Resident ID number or Unified Social Credit Code."""


def _explain(value: str, error: Exception, what: str, check) -> str:
    if isinstance(error, stdnum_errors.InvalidLength):
        return f"{value!r} is not a valid {what}: it has {len(value)} characters, not 18"
    if isinstance(error, stdnum_errors.InvalidChecksum):
        return (
            f"{value!r} is not a valid {what}: the check digit (last character) should be "
            f"{check(value)!r}, not {value[-1]!r}; is a character mistyped?"
        )
    if isinstance(error, stdnum_errors.InvalidComponent):
        return f"{value!r} is not a valid {what}: its region or birth date part is not valid"
    return f"{value!r} is not a valid {what}: it has characters that are not allowed"


def clean(value: str) -> str:
    """Return the identifier without spaces or dashes, upper-cased."""
    return re.sub(r"[\s-]", "", str(value or "")).upper()


def validate_person_id(value: str) -> str:
    """Return a valid Resident Identity Card number, cleaned; raise InvalidIdentifier."""
    number = clean(value)
    try:
        return ric.validate(number)
    except stdnum_errors.ValidationError as error:
        raise InvalidIdentifier(
            _explain(number, error, "Resident Identity Card number", ric.calc_check_digit)
        ) from None


def validate_organisation_id(value: str) -> str:
    """Return a valid Unified Social Credit Code, cleaned; raise InvalidIdentifier."""
    number = clean(value)
    try:
        return uscc.validate(number)
    except stdnum_errors.ValidationError as error:
        raise InvalidIdentifier(
            _explain(number, error, "Unified Social Credit Code", uscc.calc_check_digit)
        ) from None


def validate_subject_id(value: str, kind: str | None = None) -> tuple[str, str]:
    """Return (identifier, kind) for a person's or organisation's identifier."""
    if kind == PERSON:
        return validate_person_id(value), PERSON
    if kind == ORGANISATION:
        return validate_organisation_id(value), ORGANISATION
    if kind is not None:
        raise InvalidIdentifier(f"kind must be 'person' or 'organisation', not {kind!r}")
    number = clean(value)
    if not number:
        raise InvalidIdentifier("the identifier is empty")
    if ric.is_valid(number):
        return number, PERSON
    # An all-digit number with a birth century where a Resident ID has one is read as a
    # person's, so a mistyped check digit is explained as such and not taken for a code.
    if _ID_SHAPE.match(number) and number[6:8] in ("19", "20"):
        return validate_person_id(number), PERSON
    return validate_organisation_id(number), ORGANISATION


def looks_like_person_id(value: str) -> bool:
    """Return True if `value` has the shape of a Resident ID number (valid or not)."""
    return bool(_ID_SHAPE.match(clean(value)))


def person_id(prefix17: str) -> str:
    """Return the 18-character Resident ID number for its first 17 digits (for demo data)."""
    return prefix17 + ric.calc_check_digit(prefix17 + "0")


def organisation_id(prefix17: str) -> str:
    """Return the 18-character Unified Social Credit Code for its first 17 characters."""
    return prefix17 + uscc.calc_check_digit(prefix17)

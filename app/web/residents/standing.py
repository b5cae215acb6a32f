"""A resident's own pages: their standing, never anyone else's."""

from __future__ import annotations

from flask import abort, jsonify, render_template, url_for
from flask_login import current_user

from app.db import get_session
from app.errors import NotFound
from app.models import Record
from app.services.accounts.users import RESIDENT
from app.services.audit.proofs import prove_inclusion, sealed_in
from app.services.due_process.ways_out import entries_of, ways_out_of
from app.services.standings.facts import facts_read_once
from app.services.subject_file.chart import points_over_time
from app.services.subject_file.due_process import due_process_of
from app.services.subject_file.standing import open_subject_file
from app.web import rulebook, today
from app.web.auth import role_required
from app.web.inputs import as_of_arg
from app.web.residents import bp


@bp.get("/me")
@role_required(RESIDENT)
def me():
    """Show the logged-in resident's own standing (the subject comes from the account)."""
    if not current_user.subject_id:
        abort(403)
    as_of = as_of_arg()
    rules = rulebook()
    with facts_read_once(get_session()):  # the standing and the points over time share one read
        file = open_subject_file(get_session(), rulebook=rules,
                                 subject_id=current_user.subject_id, as_of=as_of)
        over_time = points_over_time(get_session(), rulebook=rules,
                                  subject_id=current_user.subject_id, as_of=as_of, you=True)
    due_process = due_process_of(get_session(), rulebook=rules,
                               subject_id=current_user.subject_id, today=today())
    session = get_session()
    sealed = sealed_in(session, kind_name="record",
                       keys=[status.record.id for status in due_process.records])
    ways = ways_out_of(session, subject_id=current_user.subject_id)
    entries = entries_of(session, rulebook=rules, subject_id=current_user.subject_id,
                         today=today(), ways=ways)
    return render_template("residents/me.html", file=file, rules=rules, over_time=over_time,
                           due_process=due_process, ways_out=ways, entries=entries,
                           sealed=sealed, as_of_action=url_for("residents.me"))


@bp.get("/me/records/<int:record_id>/proof")
@role_required(RESIDENT)
def record_proof(record_id: int):
    """Return the proof (JSON) that one of the resident's own records is sealed in a digest."""
    if not current_user.subject_id:
        abort(403)
    record = get_session().get(Record, record_id) if 0 < record_id < 2**31 else None
    if record is None or record.subject_id != current_user.subject_id:
        abort(404)
    try:
        proof = prove_inclusion(get_session(), kind_name="record", key=str(record_id))
    except NotFound:
        abort(404)
    response = jsonify(proof.as_json())
    response.headers["Content-Disposition"] = f"attachment; filename=record-{record_id}-proof.json"
    return response


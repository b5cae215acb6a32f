"""A resident's own pages: their standing, never anyone else's."""

from __future__ import annotations

from flask import abort, render_template, url_for
from flask_login import current_user

from app.db import get_session
from app.services.accounts.users import RESIDENT
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
    ways = ways_out_of(session, subject_id=current_user.subject_id)
    entries = entries_of(session, rulebook=rules, subject_id=current_user.subject_id,
                         today=today())
    return render_template("residents/me.html", file=file, rules=rules, over_time=over_time,
                           due_process=due_process, ways_out=ways, entries=entries,
                           as_of_action=url_for("residents.me"))


"""The kinds of job the pages queue, each a thin wrapper around one service.

- "simulate": compare a candidate rulebook with the one in force (the candidate, already
  checked by the page, travels pickled in the job's payload);
- "intake-preview" / "intake-confirm": the dry run and the import of an uploaded file
  (its bytes travel in the payload, so any host's worker can run it).
"""

from __future__ import annotations

import json
import os
import pickle
from datetime import date

from app import clock
from app.errors import InvalidInput
from app.jobs import handler
from app.services.intake.uploads import UploadStore
from app.services.lists.entries import import_list_entries_file
from app.services.records.conduct import import_records_file
from app.services.rulebooks.registry import EXTENSION_KEY as RULEBOOKS
from app.services.rulebooks.simulate import simulate

SIMULATE, INTAKE_PREVIEW, INTAKE_CONFIRM = "simulate", "intake-preview", "intake-confirm"


@handler(SIMULATE)
def run_simulation(app, session, job, progress):
    """Simulate the candidate; the result is the report and the candidate."""
    params = json.loads(job.params)
    candidate = pickle.loads(job.payload)  # noqa: S301 (written by this app's page)
    report = simulate(session, in_force=app.extensions[RULEBOOKS].current(),
                      candidate=candidate.rulebook, as_of=date.fromisoformat(params["as_of"]),
                      actor=job.owner, source=candidate.source,
                      sample=app.config["SIMULATION_SAMPLE"], progress=progress)
    return {"report": report, "candidate": candidate}


def _import(app, session, job, progress, *, dry_run: bool):
    params = json.loads(job.params)
    data = job.payload or b""
    total = max(1, data.count(b"\n") - 1)
    seen = [0]

    def rows(step: int) -> None:
        seen[0] += step
        progress(min(seen[0], total), total, "checking rows")

    common = dict(rulebook=app.extensions[RULEBOOKS].current(), department=params["department"],
                  data=data, name=params["name"], today=clock.today(), dry_run=dry_run)
    progress(0, total, "reading the file")
    try:
        if params["kind"] == "list-entries":
            result = import_list_entries_file(session, actor=job.owner, **common)
        else:
            result = import_records_file(session, recorded_by=job.owner, progress=rows, **common)
    except InvalidInput as error:
        return {"result": None, "error": error}
    return {"result": result, "error": None}


@handler(INTAKE_PREVIEW)
def run_intake_preview(app, session, job, progress):
    """Check every row of the upload without writing."""
    return _import(app, session, job, progress, dry_run=True)


@handler(INTAKE_CONFIRM)
def run_intake_confirm(app, session, job, progress):
    """Import the upload: every row, or none; a file imported is thrown away."""
    outcome = _import(app, session, job, progress, dry_run=False)
    if outcome["error"] is None:
        UploadStore(app.config.get("UPLOAD_DIR") or os.path.join(app.instance_path, "uploads")
                    ).discard(json.loads(job.params)["token"])
    return outcome

"""Published heads and proofs: a digest carries the sealed log's size and root, `audit
prove` prints an inclusion proof that the README's few lines of Python accept, and a
consistency proof shows that one day's log extends the day before's."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, text

from app.models import AuditDigest, Record
from app.services.audit import chain, merkle, proofs
from app.services.intake.drafts import RecordDraft
from app.services.records.conduct import record_conduct
from tests.services.test_seals import TODAY, behind_the_app, build_city

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_checker(tmp_path) -> Path:
    block = re.search(r"```python\n(# check_proof\.py.*?)```", README.read_text(), re.S)
    assert block, "the README shows how to check a proof"
    script = tmp_path / "check_proof.py"
    script.write_text(block.group(1))
    return script


def _new_record(session, rulebook, subject_id, days):
    return record_conduct(session, RecordDraft(subject_id=subject_id, rule_code="TRAFFIC-TICKET",
                                               occurred_on=TODAY - timedelta(days=days),
                                               evidence="photo"),
                          rulebook=rulebook, department="traffic-police",
                          recorded_by="officer", today=TODAY).record


def test_a_proof_from_the_command_checks_with_the_readme_lines(app, runner, session, rulebook,
                                                              tmp_path):
    ids = build_city(session, rulebook)
    digest = chain.publish_digest(session, day=TODAY)
    assert digest.log_size > 0 and digest.log_root == chain.log_head(session)[1]
    record_id = session.execute(select(Record.id).order_by(Record.id)).scalars().first()
    result = runner.invoke(args=["audit", "prove", "record", str(record_id)])
    assert result.exit_code == 0, result.output
    proof = json.loads(result.output)
    assert proof["day"] == TODAY.isoformat() and proof["root"] == digest.log_root
    assert merkle.verify_inclusion(bytes.fromhex(proof["leaf_hash"]), proof["index"],
                                   proof["tree_size"], [bytes.fromhex(h) for h in proof["path"]],
                                   bytes.fromhex(proof["root"]))
    (tmp_path / "proof.json").write_text(result.output)
    checked = subprocess.run([sys.executable, str(_readme_checker(tmp_path)),
                              str(tmp_path / "proof.json")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert f"record {record_id} is sealed in the digest of {TODAY}" in checked.stdout

    # a forged fact does not pass the same lines
    proof["leaf"] = proof["leaf"].replace('"points":', '"points":1', 1)
    (tmp_path / "proof.json").write_text(json.dumps(proof))
    assert subprocess.run([sys.executable, str(_readme_checker(tmp_path)),
                           str(tmp_path / "proof.json")], capture_output=True).returncode == 1

    # a subject is proved by its id too
    result = runner.invoke(args=["audit", "prove", "subject", ids[1]])
    assert result.exit_code == 0 and json.loads(result.output)["id"] == ids[1]


def test_no_proof_before_the_fact_is_in_a_digest(runner, session, rulebook):
    ids = build_city(session, rulebook)
    chain.publish_digest(session, day=TODAY)
    later = _new_record(session, rulebook, ids[0], 20)
    result = runner.invoke(args=["audit", "prove", "record", str(later.id)])
    assert result.exit_code == 1 and "in no digest published yet" in result.output
    assert runner.invoke(args=["audit", "prove", "record", "999999"]).exit_code == 1
    assert runner.invoke(args=["audit", "prove", "planet", "3"]).exit_code == 1


def test_one_days_log_extends_the_day_befores(runner, session, rulebook):
    ids = build_city(session, rulebook)
    first = chain.publish_digest(session, day=TODAY)
    for n in range(3):
        _new_record(session, rulebook, ids[n], 30 + n)
    second = chain.publish_digest(session, day=TODAY + timedelta(days=1))
    assert second.log_size > first.log_size
    result = runner.invoke(args=["audit", "consistency", str(TODAY),
                                 str(TODAY + timedelta(days=1))])
    assert result.exit_code == 0, result.output
    proof = json.loads(result.output)
    assert merkle.verify_consistency(first.log_size, second.log_size,
                                     bytes.fromhex(first.log_root), bytes.fromhex(second.log_root),
                                     [bytes.fromhex(h) for h in proof["proof"]])
    # and a record sealed on the second day is proved in the second digest
    sealed = proofs.sealed_in(session, kind_name="record",
                              keys=session.execute(select(Record.id)).scalars())
    assert set(sealed.values()) == {TODAY, TODAY + timedelta(days=1)}


def test_verify_checks_the_published_roots(app, runner, session, rulebook, tmp_path):
    build_city(session, rulebook)
    chain.publish_digest(session, day=TODAY)
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    digests = app.test_client().get("/transparency/digests.txt").text
    (tmp_path / "digests.txt").write_text(digests)
    assert len(digests.splitlines()[-1].split()) == 5
    with behind_the_app(app) as conn:
        conn.execute(text("UPDATE audit_digest SET log_root = :r"), {"r": "00" * 32})
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "digest published on" in result.output
    with behind_the_app(app) as conn:  # the copy kept outside still catches a re-rooted log
        conn.execute(text("DELETE FROM audit_digest"))
        conn.execute(text("UPDATE fact_seal SET leaf_hash = :h WHERE position = 0"),
                     {"h": "cd" * 32})
    result = runner.invoke(args=["audit", "verify", "--digests", str(tmp_path / "digests.txt")])
    assert result.exit_code == 1
    session.rollback()
    assert session.execute(select(AuditDigest)).first() is None

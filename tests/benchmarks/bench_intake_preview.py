"""The web intake's preview of a large department file: upload, dry-run check, confirm.

    python -m tests.benchmarks.bench_intake_preview --rows 100000
    python -m tests.benchmarks.bench_intake_preview --rows 100000 --url postgresql+psycopg://...

A city of --subjects persons (SQLite in a temporary folder unless --url names a fresh,
empty database) and a traffic-police CSV of --rows tickets. Through the test client, as a
logged-in recorder, it times: the upload, the preview of a valid file (every row checked and
its points fixed, nothing written), the preview of the same file with one row in ten broken
(every problem collected, the first bad rows shown), the confirmation (the import), and the
preview of the same file again (every row already there). Each preview is a whole request,
template rendering included. Goal: a 100,000-row preview well inside a proxy's
usual 60-second timeout.
"""

from __future__ import annotations

import argparse
import io
import random
import re
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine

from app import clock, create_app
from app.db import session_scope
from app.identifiers import person_id
from app.migrations import upgrade
from app.services.accounts.users import create_account
from app.services.intake.drafts import SubjectDraft
from app.services.rulebooks.registry import EXTENSION_KEY as RULEBOOKS
from app.services.rulebooks.registry import store_rulebook
from app.services.subjects.register import import_subjects
from tests.conftest import TEST_RULES, csrf_token

PASSWORD = "benchmark-password"


def _city(app, subjects: int) -> list[str]:
    ids = [person_id(f"3710821990{(n // 1000) % 12 + 1:02d}{n % 28 + 1:02d}{n % 1000:03d}")
           for n in range(subjects)]
    ids = sorted(set(ids))
    with app.app_context(), session_scope(app) as s:
        store_rulebook(s, app.extensions[RULEBOOKS].current(), loaded_by="bench", source="")
        import_subjects(s, [SubjectDraft(subject_id=sid, kind="person", name=f"Person {n}",
                                         consent=True, line=n + 2)
                            for n, sid in enumerate(ids)], name="city", actor="bench",
                        department=None)
        create_account(s, username="recorder", password=PASSWORD, role="recorder",
                       department="traffic-police")
    return ids


def _csv(ids: list[str], rows: int, *, broken_every: int = 0) -> bytes:
    rng = random.Random(3)
    today = clock.today()
    out = ["subject_id,rule_code,occurred_on,evidence,external_ref"]
    for n in range(rows):
        sid = rng.choice(ids)
        day = (today - timedelta(days=rng.randint(1, 700))).isoformat()
        if broken_every and n % broken_every == 0:
            sid = sid[:-1] + ("0" if sid[-1] != "0" else "1")  # a wrong check digit
        out.append(f"{sid},TRAFFIC-TICKET,{day},ticket {n},TP-{n:07d}")
    return ("\n".join(out) + "\n").encode()


def _timed(label: str, call):
    started = time.perf_counter()
    response = call()
    seconds = time.perf_counter() - started
    print(f"{label:<48} {seconds:7.2f} s  (HTTP {response.status_code})")
    return response, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--subjects", type=int, default=5_000)
    parser.add_argument("--url", default=None, help="an empty database (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        engine = create_engine(url)
        upgrade(engine)
        engine.dispose()
        app = create_app({"TESTING": True, "SECRET_KEY": "bench", "DATABASE_URL": url,
                          "RULES_DIR": str(TEST_RULES), "UPLOAD_DIR": str(Path(tmp) / "up"),
                          "MAX_CONTENT_LENGTH": 256 * 1024 * 1024,
                          "INTAKE_MAX_BYTES": 128 * 1024 * 1024})
        ids = _city(app, args.subjects)
        good, broken = _csv(ids, args.rows), _csv(ids, args.rows, broken_every=10)
        print(f"{args.rows:,} rows ({len(good) / 1e6:.1f} MB), {len(ids):,} subjects, "
              f"{engine.url.get_backend_name()}")
        client = app.test_client()
        page = client.get("/login")
        client.post("/login", data={"username": "recorder", "password": PASSWORD,
                                    "csrf_token": csrf_token(page.get_data(as_text=True))})

        def upload(data: bytes):
            form = client.get("/officials/intake").get_data(as_text=True)
            return client.post("/officials/intake", content_type="multipart/form-data", data={
                "csrf_token": csrf_token(form), "kind": "records",
                "file": (io.BytesIO(data), "traffic.csv")})

        sent, _ = _timed("upload (kept on the server)", lambda: upload(good))
        location = sent.headers["Location"]
        preview, seconds = _timed("preview, valid file (nothing written)",
                                  lambda: client.get(location))
        assert preview.status_code == 200, preview.get_data(as_text=True)[:2000]
        bad = upload(broken).headers["Location"]
        shown, _ = _timed("preview, one row in ten broken", lambda: client.get(bad))
        assert shown.status_code == 422
        html = preview.get_data(as_text=True)
        action = re.search(r'action="([^"]+/confirm)"', html).group(1)
        _timed("confirm (the import)", lambda: client.post(
            action, data={"csrf_token": csrf_token(html)}))
        again = upload(good).headers["Location"]
        repeat, _ = _timed("preview, same file again (all already there)",
                           lambda: client.get(again))
        assert b"Nothing to add" in repeat.data
        print(f"100,000-row goal: preview {'met' if seconds < 60 else 'MISSED'} "
              f"({seconds:.1f} s for {args.rows:,} rows)")


if __name__ == "__main__":
    main()

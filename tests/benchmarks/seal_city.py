"""Seal a generated city's stored facts set-based: what migration 0012 does for the facts
stored before sealing existed (`seals.seal_everything`), at city scale.

The generator writes its rows behind the app, so a city has no seals. `seal_everything`
reads every row into Python and hashes it there (several minutes at 10,000,000 records);
here each kind's leaves are written by one INSERT ... SELECT: the canonical text is the
SQL `audit verify` uses (app/services/audit/leaves.py), hashed by PostgreSQL's `sha256`
or, on SQLite, by a Python function registered on the connection. The positions follow
the kinds in `seals.KINDS` order and each kind's keys in order; one "facts.sealed" event
holds the Merkle root of them all (read back from the log and hashed in Python).

Since `audit verify` reads the rows through the same SQL, a first sample of each kind is
also hashed the reference way (`seals.leaves_of_rows`) and must match its seal: a city
sealed wrong would otherwise verify.

    python -m tests.benchmarks.seal_city sqlite:////tmp/citypoints-bench/city.sqlite3
"""

from __future__ import annotations

import argparse
import hashlib
import time

from sqlalchemy import select, text

from tests.benchmarks import common

SAMPLE = 2000  # rows of each kind hashed the reference way and compared with their seals


def _leaf(data: str | None) -> str:
    if data is None:  # a value not in the app's shape: the generator never writes one
        raise ValueError("a row not in the app's shape")
    return hashlib.sha256(b"\x00" + data.encode()).hexdigest()


def seal_stored(url: str) -> dict:
    """Seal every stored fact of the city at `url` that has no seal yet (none may have one);
    return counts and timings."""
    from app.db import session_scope
    from app.services.audit import chain, merkle
    from app.services.audit.leaves import pg_leaf_sql, sqlite_leaf_sql
    from app.services.audit.seals import KINDS, SEALED_ACTION, leaves_of_rows

    app = common.make_app(url)
    timings: dict[str, float] = {}
    with app.app_context(), session_scope(app, write=True) as session:
        conn = session.connection()
        pg = conn.dialect.name == "postgresql"
        chain.head(session)  # the chain's lock: the positions stay ours
        start = conn.execute(text("SELECT count(*) FROM fact_seal")).scalar()
        if start:
            raise SystemExit(f"{url} has {start} seals already")
        raw = conn.connection.dbapi_connection
        if not pg:
            raw.create_function("cp_leaf", 1, _leaf, deterministic=True)
        mark = time.perf_counter()
        conn.execute(text("DROP INDEX ix_fact_seal_fact"))  # built once, after the load
        position = 0
        for kind in KINDS.values():
            if pg:
                fact_key = "lpad(CAST(k AS text), 12, '0')" if kind.numeric else "k"
                order = "k" if kind.numeric else 'k COLLATE "C"'
                source, leaf = pg_leaf_sql(kind), "leaf"
            else:
                fact_key = "printf('%012d', k)" if kind.numeric else "k"
                order = "k"
                source, leaf = sqlite_leaf_sql(kind), "cp_leaf(leaf)"
            conn.execute(text(
                f"WITH q(k, leaf) AS ({source}) "
                "INSERT INTO fact_seal (position, kind, fact_key, leaf_hash) "
                f"SELECT :start + row_number() OVER (ORDER BY {order}) - 1, :kind, "
                f"{fact_key}, {leaf} FROM q"),
                {"start": position, "kind": kind.name})
            # (sqlite3 gives no rowcount for a statement that starts with WITH)
            position = conn.execute(text("SELECT count(*) FROM fact_seal")).scalar()
        timings["insert seals"] = time.perf_counter() - mark
        mark = time.perf_counter()
        conn.execute(text("CREATE INDEX ix_fact_seal_fact ON fact_seal "
                          "(kind, fact_key, position)"))
        timings["index"] = time.perf_counter() - mark
        mark = time.perf_counter()
        rows = session.execute(text("SELECT leaf_hash FROM fact_seal ORDER BY position"),
                               execution_options={"yield_per": 100_000}).scalars()
        root = merkle.root_of(bytes.fromhex(leaf) for leaf in rows)
        chain.append_many(session, [chain.Event(
            actor="migration", action=SEALED_ACTION,
            details={"from": 0, "count": position, "root": root.hex()})])
        timings["root and event"] = time.perf_counter() - mark
        mark = time.perf_counter()
        for kind in KINDS.values():  # the reference leaves of a first sample of each kind
            sample = session.execute(select(kind.table).order_by(kind.key).limit(SAMPLE))
            sealed = dict(session.execute(text(
                "SELECT fact_key, leaf_hash FROM fact_seal WHERE kind = :kind"
                + (' ORDER BY fact_key COLLATE "C"' if pg else " ORDER BY fact_key")
                + " LIMIT :n"), {"kind": kind.name, "n": SAMPLE}).all())
            for fact_key, leaf in leaves_of_rows(kind, sample):
                if sealed.get(fact_key) != leaf.hex():
                    raise SystemExit(f"{kind.name} {fact_key}: the SQL leaf differs from "
                                     "the reference leaf")
        timings["reference sample"] = time.perf_counter() - mark
        session.commit()
    from app.db import get_engine

    get_engine(app).dispose()
    return {"sealed": position, **{k: round(v, 1) for k, v in timings.items()}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    print(seal_stored(args.url), f"{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()

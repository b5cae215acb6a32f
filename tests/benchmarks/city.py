"""A benchmark city: a realistic population with records and list entries, from a seed.

    python -m tests.benchmarks.city --subjects 1000000 --records 10000000 sqlite:///city.sqlite3
    python -m tests.benchmarks.city --subjects 1000000 --records 10000000 \\
        postgresql+psycopg://postgres@127.0.0.1:5432/citypoints_bench

Persons and organisations with valid identifiers (check digits, birth dates, region),
districts and villages, records across the sample rulebook's codes over six years (each
by a department that may record it, for a subject of a kind it applies to, with the rule
version in force on its date), a few voided, repaired and objected to, and list and
watchlist entries (some subjects on a watchlist often enough to be flagged). The same
seed and `today` give the same city, row for row and id for id, on SQLite and PostgreSQL.

The city is test data, so a record's points are its rule version's points (caps and
repeats are exercised by the unit tests, not here). Records arrive in time order, one
department's batch after another, as real imports do.

Why it is fast (10 million records in a few minutes on two cores):
- randomness is drawn as raw bytes (Random.randbytes) and cut into 32-bit integers, not
  one Random call per field; a record is two integers (subject, rule-and-day) before it
  reaches the database;
- SQLite: the integers go in as one JSON array per batch and SQLite's json_each joins them
  to small temporary tables of subjects and rule-days, so no Python tuple is built per
  record; the load runs in one transaction with journal_mode=OFF and synchronous=OFF
  (a city that dies half-built is rebuilt, not repaired), then WAL is restored;
- PostgreSQL: COPY (psycopg's cursor.copy) of text lines, with the record table's
  foreign keys, unique constraint and indexes dropped and rebuilt after the load, then
  VACUUM ANALYZE so the first benchmark does not pay for hint bits;
- the secondary indexes of subject and record are dropped before the load and built
  once afterwards (sorting once beats updating a B-tree per row).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sqlite3
import sys
import time
from array import array
from bisect import bisect_left
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from functools import lru_cache
from itertools import accumulate
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from app import clock
from app.cli.options import TerminalProgress
from app.identifiers import organisation_id, person_id
from app.migrations import upgrade
from app.rulebook import Rulebook, load_rulebook

ROOT = Path(__file__).resolve().parents[2]
DISTRICTS = {
    "Yatou Subdistrict": ["Dongshan", "Xishan", "Chengxi", "Haiyang", "Chengzhong"],
    "Chengshan Town": ["Chengshanwei", "Longxu Island", "Xidaqiao", "Mazhuang"],
    "Shidao Management Area": ["Shidao Bay", "Dongcun", "Xicun", "Dongdao"],
    "Renhe Town": ["Renhe", "Dongnan", "Beishan", "Yushan"],
    "Ningjin Subdistrict": ["Ningjin", "Dongwang", "Xiwang"],
}
BIRTH_START, BIRTH_DAYS = date(1989, 1, 1), 19 * 365  # Rongcheng's code 371082 dates from 1988
BATCH = 50_000  # records per round trip to the database
PICK_BITS = 12  # a rule is drawn from a 4,096-slot table (weights quantised to 1/4096)
POS_BITS = 20  # a record's place in its batch, packed below the subject and rule-day
POS_MASK = (1 << POS_BITS) - 1
FREQUENT = 77  # of 256: the share of records drawn from every tenth subject (a heavier tail)
RECORD_COLUMNS = ("subject_id", "rule_code", "rule_version", "rulebook_fingerprint",
                  "department_code", "occurred_on", "ends_on", "repairable_on", "base_points",
                  "factor", "points", "note", "evidence", "recorded_at", "recorded_by",
                  "external_ref")
SUBJECT_COLUMNS = ("subject_id", "kind", "name", "district", "village",
                   "legal_representative", "consent", "registered_at", "updated_at")
LOADED_TABLES = ("subject", "record", "list_entry")
VOID_EVERY, REPAIR_EVERY, OBJECTION_EVERY = 997, 7, 2_000  # by record id


# ----------------------------------------------------------------------------- population
def _subjects(rng: random.Random, subjects: int, org_share: float,
              registered: datetime) -> list[tuple]:
    """Return the subject rows, sorted by subject_id (so the primary key is appended to)."""
    orgs = int(subjects * org_share)
    persons = subjects - orgs
    if persons > BIRTH_DAYS * 1000:
        raise ValueError(f"at most {BIRTH_DAYS * 1000:,} persons fit the identifier scheme")
    offset = rng.randrange(BIRTH_DAYS)
    birthdays = [f"{BIRTH_START + timedelta(days=(offset + d) % BIRTH_DAYS):%Y%m%d}"
                 for d in range(min(persons, BIRTH_DAYS))]
    ids = [person_id(f"371082{birthdays[i % BIRTH_DAYS]}{i // BIRTH_DAYS:03d}")
           for i in range(persons)]
    ids.sort()
    person_ids = ids[:]
    ids += [organisation_id(f"91371082{i:09d}") for i in range(orgs)]
    names = list(DISTRICTS)
    rows = []
    for n, sid in enumerate(ids):
        kind = "person" if n < persons else "organisation"
        district = names[n % len(names)]
        village = DISTRICTS[district][(n // len(names)) % len(DISTRICTS[district])]
        rep = person_ids[rng.randrange(persons)] if kind == "organisation" and persons else None
        rows.append((sid, kind, f"{kind.title()} {n}", district, village, rep,
                     rng.random() < 0.95, registered, registered))
    return rows


# ---------------------------------------------------------------------------------- rules
class _RuleDays:
    """Every (rule code, department) pair on every day: the columns a record copies.

    A record is packed into one integer: subject index << bits | (day * pairs + pair).
    """

    def __init__(self, rulebook: Rulebook, days: list[date], recorded_by: str):
        pairs, weights = [], []
        for code in rulebook.rule_codes:
            rule = rulebook.versions(code)[-1]
            for dept in rule.departments:
                pairs.append((code, dept))
                weights.append(1.0 / max(1, abs(rule.points)) ** 0.7)  # minor conduct is common
        self.pairs = pairs
        self.bits = max(1, (len(days) * len(pairs) - 1).bit_length())
        self.rows: list[tuple] = []  # one per (day, pair), None where the rule is not in force
        self.tables: list[tuple[list[int], list[int]]] = []  # per day: (person, organisation)
        cache: dict[tuple, tuple[list[int], list[int]]] = {}
        after: dict[tuple, list] = {}  # (count, unit) -> that duration after each day
        for versions in map(rulebook.versions, rulebook.rule_codes):
            for rule in versions:
                for duration in (rule.expires_after, rule.repairable_after):
                    if duration is not None and (duration.count, duration.unit) not in after:
                        after[duration.count, duration.unit] = [duration.after(d) for d in days]
        fingerprint = rulebook.fingerprint

        for n, day in enumerate(days):
            recorded_at = datetime.combine(day + timedelta(days=1), dtime(9), UTC)
            usable = {"person": [], "organisation": []}
            for i, (code, dept) in enumerate(pairs):
                rule = rulebook.rule_on(code, day)
                if rule is None or dept not in rule.departments:
                    self.rows.append(None)
                    continue
                for kind in rule.subjects:
                    usable[kind].append(i)
                expires, repairable = rule.expires_after, rule.repairable_after
                self.rows.append((code, rule.version, fingerprint, dept, day,
                                  after[expires.count, expires.unit][n],
                                  after[repairable.count, repairable.unit][n]
                                  if repairable else None,
                                  rule.points, 1, rule.points, "", "", recorded_at, recorded_by))
            key = (tuple(usable["person"]), tuple(usable["organisation"]))
            if key not in cache:
                cache[key] = tuple(_pick_table([weights[i] for i in ids], ids) for ids in key)
            self.tables.append(cache[key])
        self.mask = (1 << self.bits) - 1
        ranks = {d: i for i, d in enumerate(sorted({dept for _code, dept in pairs}))}
        self.rank = [ranks[row[3]] if row else 0 for row in self.rows]

    def in_import_order(self, packed: list[int]) -> list[int]:
        """Sort a batch by department, keeping draw order within one (as imports arrive).

        Each item becomes packed << POS_BITS | its place in the draw (its external_ref).
        """
        if len(packed) > POS_MASK:
            raise ValueError("too many records per day for one batch")
        rank, mask = self.rank, self.mask
        keys = sorted([rank[v & mask] << POS_BITS | i for i, v in enumerate(packed)])
        return [packed[k & POS_MASK] << POS_BITS | (k & POS_MASK) for k in keys]


def _pick_table(weights: list[float], ids: tuple[int, ...]) -> list[int]:
    """Return 2**PICK_BITS slots holding each of `ids` in proportion to its weight."""
    if not ids:
        return []
    cum = list(accumulate(weights))
    size = 1 << PICK_BITS
    return [ids[min(len(ids) - 1, bisect_left(cum, (j + 0.5) / size * cum[-1]))]
            for j in range(size)]


def _records(rng: random.Random, kinds: bytes, rule_days: _RuleDays, counts: list[int]):
    """Yield lists of packed records (see _RuleDays), BATCH or more at a time, in day order."""
    n_subjects = len(kinds)
    tenth = max(1, n_subjects // 10)
    bits, per_day = rule_days.bits, len(rule_days.pairs)
    batch: list[int] = []
    for day_index, count in enumerate(counts):
        if not count:
            continue
        raw = array("I")
        raw.frombytes(rng.randbytes(8 * count))
        draws, picks = raw[0::2], raw[1::2]
        who = [x % n_subjects if y >> 24 >= FREQUENT else (x % tenth) * 10
               for x, y in zip(draws, picks, strict=True)]
        tables = rule_days.tables[day_index]
        base = day_index * per_day
        if all(tables):
            batch += [s << bits | (base + tables[kinds[s]][y & 4095])
                      for s, y in zip(who, picks, strict=True)]
        else:  # a kind with no rule in force that day draws no record
            batch += [s << bits | (base + tables[kinds[s]][y & 4095])
                      for s, y in zip(who, picks, strict=True) if tables[kinds[s]]]
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


# ---------------------------------------------------------------------------------- sinks
class _Sink:
    """A database being filled: one connection, one transaction, indexes built at the end."""

    placeholder = "?"

    def exec(self, sql: str, params=()):
        raise NotImplementedError

    def many(self, sql: str, rows: list[tuple]) -> None:
        raise NotImplementedError

    def q(self, sql: str) -> str:
        if self.placeholder == "?":
            return sql
        return sql.replace("%", "%%").replace("?", self.placeholder)


class _SQLiteSink(_Sink):
    def __init__(self, engine: Engine):
        engine.dispose()  # journal mode can only change with no other connection open
        self.con = sqlite3.connect(engine.url.database, isolation_level=None)
        self.journal = self.con.execute("PRAGMA journal_mode").fetchone()[0]
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-262144",
                       "temp_store=MEMORY", "foreign_keys=OFF", "locking_mode=EXCLUSIVE"):
            self.con.execute(f"PRAGMA {pragma}")
        self.indexes = self.con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({', '.join('?' * len(LOADED_TABLES))})", LOADED_TABLES).fetchall()
        self.con.execute("BEGIN")
        for name, _sql in self.indexes:
            self.con.execute(f'DROP INDEX "{name}"')

    def exec(self, sql, params=()):
        return self.con.execute(sql, params)

    def many(self, sql, rows):
        self.con.executemany(sql, rows)

    def subjects(self, rows):
        text_rows = [(*r[:7], _ts_sqlite(r[7]), _ts_sqlite(r[8])) for r in rows]
        self.many(f"INSERT INTO subject ({', '.join(SUBJECT_COLUMNS)}) VALUES "
                  f"({', '.join('?' * len(SUBJECT_COLUMNS))})", text_rows)
        self.con.execute("CREATE TEMP TABLE city_subject (i INTEGER PRIMARY KEY, sid TEXT)")
        self.many("INSERT INTO city_subject VALUES (?, ?)",
                  [(i, r[0]) for i, r in enumerate(rows)])

    def rule_days(self, rule_days: _RuleDays):
        cols = RECORD_COLUMNS[1:-1]
        self.con.execute(f"CREATE TEMP TABLE city_rule_day (c INTEGER PRIMARY KEY, "
                         f"{', '.join(cols)})")
        self.many(f"INSERT INTO city_rule_day VALUES ({', '.join('?' * (len(cols) + 1))})",
                  [(c, *_sqlite_values(row)) for c, row in enumerate(rule_days.rows) if row])
        self.bits, self.mask = rule_days.bits, rule_days.mask

    def records(self, ordered: list[int], first_ref: int):
        cols, bits = RECORD_COLUMNS[1:-1], self.bits
        # CROSS JOIN keeps json_each the outer loop: rows go in in the array's order.
        self.con.execute(
            f"INSERT INTO record ({', '.join(RECORD_COLUMNS)}) "
            f"SELECT s.sid, {', '.join('c.' + c for c in cols)}, "
            f"printf('city-%010d', (j.value & {POS_MASK}) + ?) FROM json_each(?) j "
            f"CROSS JOIN city_subject s ON s.i = (j.value >> {POS_BITS + bits}) "
            f"CROSS JOIN city_rule_day c ON c.c = ((j.value >> {POS_BITS}) & {self.mask})",
            (first_ref, "[" + ",".join(map(str, ordered)) + "]"))

    def finish(self, timings: dict):
        self.con.execute("DROP TABLE city_subject")
        self.con.execute("DROP TABLE city_rule_day")
        started = time.perf_counter()
        for _name, sql in self.indexes:
            self.con.execute(sql)
        timings["indexes"] = time.perf_counter() - started
        self.con.execute("COMMIT")
        self.con.execute("PRAGMA locking_mode=NORMAL")
        self.con.execute(f"PRAGMA journal_mode={self.journal}")
        self.con.close()


class _PostgresSink(_Sink):
    placeholder = "%s"

    def __init__(self, engine: Engine):
        self.engine = engine
        self.raw = engine.raw_connection()
        self.con = self.raw.driver_connection
        self.cur = self.con.cursor()
        for setting in ("synchronous_commit = off", "maintenance_work_mem = '1GB'",
                        "max_parallel_maintenance_workers = 1"):
            self.cur.execute(f"SET {setting}")
        # Foreign keys and unique constraints of the loaded tables (not primary keys: other
        # tables' foreign keys hang on them), then their other indexes; rebuilt at the end.
        self.constraints = self.cur.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE conrelid::regclass::text = ANY(%s) AND contype IN ('f', 'u') "
            "ORDER BY contype DESC, conname", (list(LOADED_TABLES),)).fetchall()
        self.indexes = self.cur.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint) ORDER BY indexname",
            (list(LOADED_TABLES),)).fetchall()
        for table, name, _definition in self.constraints:
            self.cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _definition in self.indexes:
            self.cur.execute(f'DROP INDEX "{name}"')

    def exec(self, sql, params=()):
        return self.cur.execute(self.q(sql), params)

    def many(self, sql, rows):
        self.cur.executemany(self.q(sql), rows)

    def _copy(self, table: str, columns, lines):
        with self.cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write("".join(lines))

    def subjects(self, rows):
        self._copy("subject", SUBJECT_COLUMNS, ("\t".join(_pg_text(v) for v in r) + "\n"
                                                for r in rows))
        self.sids = [r[0] for r in rows]

    def rule_days(self, rule_days: _RuleDays):
        self.combo = ["\t".join(_pg_text(v) for v in row) if row else None
                      for row in rule_days.rows]
        self.bits, self.mask = rule_days.bits, rule_days.mask

    def records(self, ordered: list[int], first_ref: int):
        mask, bits, sids, combo = self.mask, self.bits, self.sids, self.combo
        self._copy("record", RECORD_COLUMNS, [
            f"{sids[v >> (POS_BITS + bits)]}\t{combo[(v >> POS_BITS) & mask]}\t"
            f"city-{first_ref + (v & POS_MASK):010d}\n" for v in ordered])

    def finish(self, timings: dict):
        started = time.perf_counter()
        for _name, definition in self.indexes:
            self.cur.execute(definition)
        for table, name, definition in self.constraints:  # unique ones first
            self.cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        self.con.commit()
        timings["indexes"] = time.perf_counter() - started
        started = time.perf_counter()
        self.con.autocommit = True
        for table in (*LOADED_TABLES, "objection"):
            self.cur.execute(f"VACUUM ANALYZE {table}")
        self.con.autocommit = False
        timings["vacuum"] = time.perf_counter() - started
        self.cur.close()
        self.raw.close()


@lru_cache(maxsize=100_000)
def _ts_sqlite(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's form


@lru_cache(maxsize=100_000)
def _sqlite_value(value):
    if isinstance(value, datetime):
        return _ts_sqlite(value)
    return value.isoformat() if isinstance(value, date) else value


def _sqlite_values(row: tuple) -> tuple:
    return tuple(map(_sqlite_value, row))


def _pg_text(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


# ------------------------------------------------------------------------------- the city
def build_city(engine: Engine, *, subjects: int, records: int, seed: int = 2026,
               rulebook: Rulebook | None = None, today: date | None = None,
               org_share: float = 0.1, quiet: bool = True) -> dict:
    """Fill an empty, migrated database with a city; return counts and timings.

    Records occur on the days before `today` over six years. On SQLite the engine's
    pooled connections are closed first (the load needs the database to itself).
    """
    rulebook = rulebook or load_rulebook(ROOT / "rules")
    today = today or clock.today()
    rng = random.Random(seed)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    registered = datetime.combine(today - timedelta(days=6 * 365 + 30), dtime(0), UTC)
    sink = _PostgresSink(engine) if engine.dialect.name == "postgresql" else _SQLiteSink(engine)

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = now - since
        if not quiet:
            print(f"{name}: {timings[name]:.1f} s", file=sys.stderr)
        return now

    try:
        mark = time.perf_counter()
        known = {row[0] for row in sink.exec("SELECT code FROM department").fetchall()}
        sink.many("INSERT INTO department (code, title) VALUES (?, ?)",
                  [(d.code, d.title) for d in rulebook.departments if d.code not in known])
        people = _subjects(rng, subjects, org_share, registered)
        sink.subjects(people)
        mark = lap("subjects", mark)

        first = today - timedelta(days=6 * 365)
        days = [first + timedelta(days=i) for i in range((today - first).days)]
        rule_days = _RuleDays(rulebook, days, recorded_by="city")
        sink.rule_days(rule_days)
        counts = [records * (i + 1) // len(days) - records * i // len(days)
                  for i in range(len(days))]
        kinds = bytes(0 if row[1] == "person" else 1 for row in people)
        stored = 0
        # A bar on a terminal (none when piped, or when quiet).
        with TerminalProgress("records", stream=io.StringIO() if quiet else sys.stderr) as bar:
            for packed in _records(rng, kinds, rule_days, counts):
                sink.records(rule_days.in_import_order(packed), stored)
                stored += len(packed)
                bar(stored, records, "")
        mark = lap("records", mark)

        voided, repaired, objections = _conduct_history(sink, today)
        entries = _list_entries(sink, rng, rulebook, people, today, registered)
        mark = lap("history and lists", mark)
        sink.finish(timings)
        lap("indexes and vacuum", mark)
    except BaseException:
        if isinstance(sink, _SQLiteSink):
            sink.con.close()
        else:
            sink.raw.close()
        raise
    return {"subjects": subjects, "records": stored, "list_entries": entries,
            "objections": objections, "voided": voided, "repaired": repaired,
            "today": today.isoformat(), "seed": seed,
            "seconds": round(time.perf_counter() - started, 1),
            "phases": {k: round(v, 1) for k, v in timings.items()}}


def _conduct_history(sink: _Sink, today: date) -> tuple[int, int, int]:
    """Void, repair and object to a few records (chosen by id, so the same on every database)."""
    voided = sink.exec(
        "UPDATE record SET voided_at = recorded_at, voided_by = 'city', "
        f"void_reason = 'entered in error' WHERE id % {VOID_EVERY} = 0").rowcount
    repaired = sink.exec(
        "UPDATE record SET repaired_on = repairable_on, repaired_by = 'city', "
        "repair_evidence = 'debt paid' WHERE repairable_on IS NOT NULL AND repairable_on <= ? "
        f"AND voided_at IS NULL AND id % {REPAIR_EVERY} = 3",
        (_param(sink, today),)).rowcount
    picked = sink.exec(
        "SELECT id, subject_id, occurred_on FROM record WHERE voided_at IS NULL "
        f"AND repaired_on IS NULL AND id % {OBJECTION_EVERY} = {OBJECTION_EVERY // 2}"
    ).fetchall()
    rows, annulled = [], []
    for record_id, subject_id, occurred in picked:
        occurred = date.fromisoformat(occurred) if isinstance(occurred, str) else occurred
        filed = min(today, occurred + timedelta(days=5))
        filed_at = datetime.combine(filed, dtime(10), UTC)
        deadline = filed + timedelta(days=15)
        decided = filed + timedelta(days=10) if filed + timedelta(days=10) < today else None
        outcome = None if decided is None else ("annulled" if record_id % 3 == 0 else "upheld")
        if outcome == "annulled":
            annulled.append((_param(sink, decided), record_id))
        rows.append((record_id, subject_id, 1, _param(sink, filed), _param(sink, filed_at),
                     f"subject:{subject_id}", "the record is mistaken", _param(sink, deadline),
                     _param(sink, decided),
                     _param(sink, datetime.combine(decided, dtime(16), UTC))
                     if decided else None, "city-reviewer" if decided else None, outcome,
                     "decided on the evidence" if decided else None))
    sink.many("INSERT INTO objection (record_id, subject_id, level, filed_on, filed_at, filed_by, "
              "reason, deadline, decided_on, decided_at, decided_by, outcome, decision_reason) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    sink.many("UPDATE record SET annulled_on = ? WHERE id = ?", annulled)
    return voided, repaired, len(rows)


def _list_entries(sink: _Sink, rng: random.Random, rulebook: Rulebook, people: list[tuple],
                  today: date, registered: datetime) -> int:
    """Blacklist, redlist and watchlist entries; watchlist ones gather on a few subjects."""
    entries = []
    n = len(people)
    watched = [rng.randrange(n) for _ in range(max(1, n // 400))]
    for list_def in rulebook.lists:
        if not list_def.departments:
            continue
        watch = list_def.kind == "watchlist"
        for k in range(max(1, n // (100 if watch else 200))):
            subject = people[rng.choice(watched) if watch else rng.randrange(n)][0]
            entered = today - timedelta(days=1 + rng.randrange(3 * 365))
            ends = list_def.lasts.after(entered) if list_def.lasts else None
            removed = entered + timedelta(days=100) if rng.random() < 0.1 else None
            removed = removed if removed and removed < today else None
            entries.append((list_def.code, subject, rng.choice(list_def.departments),
                            _param(sink, entered), _param(sink, ends), list_def.legal_basis,
                            f"decision {list_def.code} {k}", f"city-{list_def.code}-{k:08d}",
                            _param(sink, registered), "city", _param(sink, removed),
                            "city" if removed else None,
                            "performed the judgment" if removed else None))
    sink.many("INSERT INTO list_entry (list_code, subject_id, department_code, entered_on, "
              "ends_on, legal_basis, decision_ref, external_ref, created_at, created_by, "
              "removed_on, removed_by, removed_reason) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", entries)
    return len(entries)


def _param(sink: _Sink, value):
    """A date or time as the driver of `sink` takes it (SQLite: SQLAlchemy's text form)."""
    if isinstance(sink, _SQLiteSink) and isinstance(value, (date, datetime)):
        return _ts_sqlite(value) if isinstance(value, datetime) else value.isoformat()
    return value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url")
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--today", type=date.fromisoformat, default=None,
                        help="the city's today (YYYY-MM-DD; default: today)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    engine = create_engine(args.database_url)
    upgrade(engine)
    with engine.connect() as conn:
        if conn.execute(text("SELECT COUNT(*) FROM subject")).scalar():
            parser.error("the database is not empty")
    result = build_city(engine, subjects=args.subjects, records=args.records, seed=args.seed,
                        today=args.today, quiet=args.quiet)
    engine.dispose()
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Proofs anyone can check: that a fact is sealed in a published digest (inclusion), and
that one day's log extends the day before's (consistency), both RFC 6962.

A proof's hashes are roots of leaf ranges; each is hashed by streaming that range of the
seal log, so a proof reads at most the log once and keeps O(log n) hashes in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from app.errors import NotFound
from app.models import AuditDigest, FactSeal
from app.services.audit import merkle
from app.services.audit.seals import KINDS, Kind, row_data


@dataclass(frozen=True)
class InclusionProof:
    kind: str
    id: Any
    leaf: str  # the fact's canonical content, as hashed into the leaf
    leaf_hash: str
    index: int
    tree_size: int
    root: str
    day: date
    path: list[str]
    current: bool  # the row as it is now still hashes to this leaf

    def as_json(self) -> dict:
        return {"kind": self.kind, "id": self.id, "leaf": self.leaf, "leaf_hash": self.leaf_hash,
                "index": self.index, "tree_size": self.tree_size, "root": self.root,
                "day": self.day.isoformat(), "path": self.path}


def subtree_root(session: Session, start: int, end: int) -> bytes:
    """Return the root of the log's leaves at positions [start, end)."""
    frontier = merkle.Frontier()
    for (leaf,) in session.execute(
            select(FactSeal.leaf_hash).where(FactSeal.position >= start,
                                             FactSeal.position < end)
            .order_by(FactSeal.position), execution_options={"yield_per": 10_000}):
        frontier.add(bytes.fromhex(leaf))
    return frontier.root()


def kind_named(name: str) -> Kind:
    """Return the sealed kind called `name` (record, list-entry, ...)."""
    kind = KINDS.get(name)
    if kind is None:
        raise NotFound(f"no kind of fact called {name!r}; one of: {', '.join(KINDS)}")
    return kind


def prove_inclusion(session: Session, *, kind_name: str, key: str,
                    day: date | None = None) -> InclusionProof:
    """Return the proof that the fact's latest seal is in the digest of `day` (default: the
    first digest published after it was sealed); raise NotFound when there is none."""
    kind = kind_named(kind_name)
    try:
        value = kind.parse_key(key)
    except ValueError:
        raise NotFound(f"{key!r} is not the id of a {kind_name}") from None
    seal = session.execute(
        select(FactSeal).where(FactSeal.kind == kind.name,
                               FactSeal.fact_key == kind.fact_key(value))
        .order_by(FactSeal.position.desc()).limit(1)).scalar_one_or_none()
    if seal is None:
        raise NotFound(f"{kind_name} {key} is not sealed")
    query = select(AuditDigest).where(AuditDigest.log_size > seal.position,
                                      AuditDigest.log_root.is_not(None))
    query = (query.where(AuditDigest.day == day) if day is not None
             else query.order_by(AuditDigest.day).limit(1))
    digest = session.execute(query).scalar_one_or_none()
    if digest is None:
        raise NotFound(f"{kind_name} {key} is sealed but in no digest published "
                       + (f"on {day}" if day else "yet (digests are published nightly)"))
    row = session.execute(select(kind.table).where(kind.key == value)).mappings().one_or_none()
    data = row_data(kind, row).decode() if row is not None else ""
    path = [subtree_root(session, a, b).hex()
            for a, b in merkle.path_ranges(seal.position, digest.log_size)]
    return InclusionProof(kind=kind.name, id=value, leaf=data, leaf_hash=seal.leaf_hash,
                          index=seal.position, tree_size=digest.log_size,
                          root=digest.log_root or "", day=digest.day, path=path,
                          current=bool(data) and merkle.leaf_hash(data.encode()).hex()
                          == seal.leaf_hash)


def prove_consistency(session: Session, *, old: date, new: date) -> dict:
    """Return the proof that the log published on `new` extends the one published on `old`."""
    digests = {d.day: d for d in session.execute(select(AuditDigest).where(
        AuditDigest.day.in_([old, new]))).scalars()}
    for day in (old, new):
        if day not in digests or not digests[day].log_root:
            raise NotFound(f"no digest of the sealed facts was published on {day}")
    a, b = digests[old], digests[new]
    if not 0 < a.log_size <= b.log_size:
        raise NotFound(f"no consistency proof from a log of {a.log_size} to {b.log_size}")
    proof = [subtree_root(session, s, e).hex()
             for s, e in merkle.consistency_ranges(a.log_size, b.log_size)]
    return {"old": {"day": old.isoformat(), "tree_size": a.log_size, "root": a.log_root},
            "new": {"day": new.isoformat(), "tree_size": b.log_size, "root": b.log_root},
            "proof": proof}


def sealed_in(session: Session, *, kind_name: str, keys: Iterable[Any]) -> dict[Any, date]:
    """Return, for each fact that is in a published digest, the day of the first one."""
    kind = KINDS[kind_name]
    by_key = {kind.fact_key(k): k for k in keys}
    if not by_key:
        return {}
    latest: dict[str, int] = {}
    for fact_key, position in session.execute(
            select(FactSeal.fact_key, FactSeal.position).where(
                FactSeal.kind == kind.name, FactSeal.fact_key.in_(list(by_key)))):
        latest[fact_key] = max(position, latest.get(fact_key, -1))
    digests = session.execute(select(AuditDigest.day, AuditDigest.log_size).where(
        AuditDigest.log_root.is_not(None)).order_by(AuditDigest.day)).all()
    out: dict[Any, date] = {}
    for fact_key, position in latest.items():
        day = next((d for d, size in digests if size > position), None)
        if day is not None:
            out[by_key[fact_key]] = day
    return out

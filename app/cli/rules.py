"""`flask --app app rules ...`: check, test, simulate, reload and compare rulebooks."""

from __future__ import annotations

import dataclasses
import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from app.cli.options import (
    TerminalProgress,
    allow_far_date,
    fail,
    rulebook,
    rulebook_registry,
    run_day,
    today,
)
from app.db import session_scope
from app.errors import CitypointsError

rules_cli = AppGroup("rules", help="Check and simulate rulebooks.")


@rules_cli.command("check")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
def rules_check(directory: str | None) -> None:
    """Validate a rulebook; print each problem as file:line: message; exit 1 on any error."""
    from app.rulebook import check_rulebook

    directory = directory or current_app.config["RULES_DIR"]
    result = check_rulebook(directory, limits=rulebook_registry().limits)
    for problem in result.problems:
        click.echo(str(problem))
    for warning in result.warnings:
        click.echo(f"{warning.file}:{warning.line}: warning: {warning.message}")
    if not result.ok:
        click.echo(f"{len(result.problems)} error(s); the rulebook was not accepted", err=True)
        sys.exit(1)
    rb = result.rulebook
    rules = sum(len(t.rules) for t in rb.tables)
    click.echo(f"ok: {directory}: {len(rb.tables)} tables, {rules} rule rows, "
               f"{len(rb.measures)} measures, {len(rb.lists)} lists; "
               f"fingerprint {rb.fingerprint[:12]}")


@rules_cli.command("test")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
def rules_test(directory: str | None) -> None:
    """Run the rule tests in DIR/tests/*.yaml (default: the rules in force); exit 1 on failure."""
    from app.rulebook import check_rulebook
    from app.ruletests import run_rule_tests_in

    directory = directory or current_app.config["RULES_DIR"]
    limits = rulebook_registry().limits
    result = check_rulebook(directory, limits=limits)
    if not result.ok or result.rulebook is None:
        for problem in result.problems:
            click.echo(str(problem))
        click.echo(f"{len(result.problems)} error(s) in the rulebook; no test was run", err=True)
        sys.exit(1)
    report = run_rule_tests_in(result.rulebook, directory, limits=limits)
    for problem in report.problems:
        click.echo(str(problem))
    for failure in report.failures:
        for line in failure.lines():
            click.echo(line)
    if not report.files:
        click.echo(f"no rule tests: write them in {directory.rstrip('/')}/tests/*.yaml")
        return
    if not report.ok:
        click.echo(f"FAILED: {report.summary()}", err=True)
        sys.exit(1)
    click.echo(f"ok: {report.summary()}")


@rules_cli.command("simulate")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--as-of", "as_of", default=None, help="The date (YYYY-MM-DD); default today.")
@click.option("--sample", default=None, type=click.IntRange(0, 1000),
              help="How many movers to explain (default SIMULATION_SAMPLE, 20).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--as", "actor", default="cli", show_default=True, help="Who simulates (logged).")
@allow_far_date
def rules_simulate(directory: str, as_of: str | None, sample: int | None, as_json: bool,
                   actor: str, allow_far: bool) -> None:
    """Compare the rulebook in DIRECTORY with the one in force over the whole population."""
    from app.services.rulebooks.candidates import candidate_from_dir
    from app.services.rulebooks.simulate import simulate

    try:
        candidate = candidate_from_dir(directory, limits=rulebook_registry().limits)
        in_force = rulebook()
        day = run_day(as_of, rulebooks=[in_force, candidate.rulebook], allow_far=allow_far)
        with session_scope() as session, TerminalProgress("simulate") as progress:
            report = simulate(session, in_force=in_force, candidate=candidate.rulebook,
                              as_of=day, actor=actor, source=directory,
                              sample=current_app.config["SIMULATION_SAMPLE"]
                              if sample is None else sample, progress=progress)
    except CitypointsError as error:
        fail(error)
    if as_json:
        body = dataclasses.asdict(report)
        body["candidate_warnings"] = list(candidate.warnings)
        body["candidate_tests"] = {"summary": candidate.tests.summary(),
                                   "ok": candidate.tests.ok,
                                   "failures": [line for f in candidate.tests.failures
                                                for line in f.lines()]}
        click.echo(json.dumps(body, indent=2, default=str, ensure_ascii=False))
        return
    for line in report_lines(report, candidate):
        click.echo(line)


def report_lines(report, candidate) -> list[str]:
    """Return the simulation report as text lines (the CLI's output)."""
    out = [f"candidate {candidate.source} (fingerprint {report.candidate[:12]}) against the "
           f"rulebook in force ({report.in_force[:12]}), as of {report.as_of}: "
           f"{report.subjects} subjects, {report.duration_ms} ms"]
    out += [f"warning: {w}" for w in candidate.warnings]
    tests = candidate.tests
    if tests.files:
        verdict = "pass" if tests.ok else "FAIL: a reload would refuse this rulebook"
        out.append(f"its rule tests {verdict} ({tests.summary()})")
        out += [f"  {p}" for p in tests.as_problems()]
    out.append("")
    out.append("What the candidate changes:")
    out += [f"  {c}" for c in report.changes] or ["  nothing in meaning"]
    out.append("")
    out.append("Subjects per tier:")
    out.append(f"  {'tier':<14}{'before':>9}{'after':>9}{'change':>9}")
    for t in report.tiers:
        out.append(f"  {t.tier:<14}{t.before:>9}{t.after:>9}{t.after - t.before:>+9}")
    out.append(f"Moves: {report.moved_up} up, {report.moved_down} down"
               + (f", {report.moved_other} scored or unscored" if report.moved_other else ""))
    out += [f"  {t.before} → {t.after}: {t.subjects} ({t.direction})" for t in report.transitions]
    out.append("")
    out.append("Measures gained and lost:")
    changed = [m for m in report.measures if m.gained or m.lost]
    for m in changed:
        out.append(f"  {m.code} ({m.kind}): {m.gained} gain it, {m.lost} lose it")
        if m.gained_ids:
            more = " ..." if m.gained > len(m.gained_ids) else ""
            out.append(f"    gain: {', '.join(m.gained_ids)}{more}")
        if m.lost_ids:
            more = " ..." if m.lost > len(m.lost_ids) else ""
            out.append(f"    lose: {', '.join(m.lost_ids)}{more}")
    if not changed:
        out.append("  none")
    if report.sample:
        out.append("")
        out.append(f"A sample of {len(report.sample)} movers, and why:")
    for mover in report.sample:
        line = (f"  {mover.subject_id} {mover.name}: {mover.points_before} {mover.tier_before}"
                f" → {mover.points_after} {mover.tier_after}")
        if mover.gained:
            line += f"; gains {', '.join(mover.gained)}"
        if mover.lost:
            line += f"; loses {', '.join(mover.lost)}"
        out.append(line)
        for r in mover.records:
            out.append(f"    record {r.record_id} {r.rule_code} of {r.occurred_on}: "
                       f"{_pts(r.before)} → {_pts(r.after)}" + (f" ({r.reason})" if r.reason
                                                                else ""))
            out.append(f"      rule row in force: {r.rule_before}; in the candidate: "
                       f"{r.rule_after}")
        for change in mover.rule_changes:
            out.append(f"    because the candidate changes: {change}")
    return out


def _pts(value: int | None) -> str:
    return "does not count" if value is None else f"{value:+d}"


@rules_cli.command("reload")
@click.option("--as", "actor", default="cli", show_default=True, help="Who reloads (logged).")
@click.option("--without-tests", is_flag=True,
              help="Put the directory in force even if it has no rule tests (audited).")
def rules_reload(actor: str, without_tests: bool) -> None:
    """Reload the rules directory; running processes follow within RULEBOOK_SYNC_SECONDS."""
    state = rulebook_registry().reload(loaded_by=actor, without_tests=without_tests)
    if state.problems:
        for problem in state.problems:
            click.echo(str(problem))
        kept = state.rulebook.fingerprint[:12] if state.rulebook else "none"
        click.echo(f"refused: {len(state.problems)} problem(s); the rulebook in force stays "
                   f"({kept})", err=True)
        sys.exit(1)
    first = state.rulebook.scheme.in_force_from
    if first is not None and first > today():
        click.echo(f"scheduled: {state.rulebook.fingerprint[:12]} in force from "
                   f"{first.isoformat()} ({state.tests or 'no rule tests'}); until then "
                   f"{rulebook().fingerprint[:12]} stays in force")
        return
    click.echo(f"in force: {state.rulebook.fingerprint[:12]} ({state.tests or 'no rule tests'})")


@rules_cli.command("scheduled")
def rules_scheduled() -> None:
    """List the rulebooks scheduled to come into force after today, with their first day."""
    from app.services.rulebooks.in_force import scheduled

    with session_scope() as session:
        found = scheduled(session, today=today())
    if not found:
        click.echo("no rulebook is scheduled")
    for event, entry in found:
        click.echo(f"{entry.fingerprint[:12]}  from {entry.first_day.isoformat()}  "
                   f"put in force {event.at:%Y-%m-%d %H:%M} by {event.actor}")


@rules_cli.command("cancel")
@click.argument("fingerprint")
@click.option("--as", "actor", default="cli", show_default=True, help="Who cancels (audited).")
def rules_cancel(fingerprint: str, actor: str) -> None:
    """Cancel a rulebook scheduled for a later day, before that day (audited)."""
    from app.services.rulebooks.in_force import cancel_scheduled
    from app.services.transaction import transaction

    with session_scope(write=True) as session:
        try:
            with transaction(session):
                event = cancel_scheduled(session, fingerprint=fingerprint, actor=actor,
                                         today=today())
        except CitypointsError as error:
            fail(error)
    click.echo(f"cancelled: {event.fingerprint[:12] if event.fingerprint else fingerprint} "
               "will not come into force")


@rules_cli.command("history")
def rules_history() -> None:
    """List every rulebook put in force, newest first."""
    from app.services.rulebooks.history import rulebook_history

    with session_scope() as session:
        for entry in rulebook_history(session):
            click.echo(f"{entry.fingerprint[:12]}  {entry.at:%Y-%m-%d %H:%M}  {entry.kind:<9} "
                       f"by {entry.by}  from {entry.source}")


@rules_cli.command("diff")
@click.argument("old")
@click.argument("new")
def rules_diff(old: str, new: str) -> None:
    """Show the changes between two stored rulebooks (fingerprints, or 6+ of their characters)."""
    from app.services.rulebooks.history import rulebook_diff

    with session_scope() as session:
        try:
            a, b, result = rulebook_diff(session, old=old, new=new)
        except CitypointsError as error:
            fail(error)
    click.echo(f"from {a.fingerprint[:12]} to {b.fingerprint[:12]}:")
    for change in result.changes:
        click.echo(f"  {change}")
    for file in result.files:
        for line in file.lines:
            click.echo(line)

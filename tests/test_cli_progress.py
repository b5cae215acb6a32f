"""The long commands show a progress bar on a terminal and print only their result when
piped (recompute, rules simulate, audit verify, records import)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from app import clock
from app.cli import options
from app.cli.options import TerminalProgress
from tests.conftest import TEST_RULES


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_draws_on_a_terminal_and_not_on_a_pipe():
    tty, pipe = Terminal(), io.StringIO()
    for stream in (tty, pipe):
        with TerminalProgress("recompute", stream=stream) as bar:
            for done in range(5):
                bar(done, 4, "points")
    assert "recompute: points" in tty.getvalue()
    assert pipe.getvalue() == ""


@pytest.fixture
def city(runner, session, make_subject, tmp_path):
    subject = make_subject(session)
    day = (clock.today() - timedelta(days=3)).isoformat()
    path = tmp_path / "records.csv"
    path.write_text("subject_id,rule_code,occurred_on,evidence,external_ref\n"
                    f"{subject.subject_id},TRAFFIC-TICKET,{day},camera,T-1\n")
    return path


COMMANDS = {
    "recompute": (["recompute", "--full"], "recompute"),
    "simulate": (["rules", "simulate", str(TEST_RULES)], "simulate"),
    "audit verify": (["audit", "verify"], "audit verify"),
}


@pytest.mark.parametrize("name", [*COMMANDS, "records import"])
def test_long_commands_show_progress_only_on_a_terminal(runner, city, monkeypatch, name):
    if name == "records import":
        args, label = ["records", "import", str(city), "--department", "traffic-police"], \
            "checking rows"
    else:
        args, label = COMMANDS[name]
    if name == "audit verify":  # a bar every 1,000 events: make it every event here
        runner.invoke(args=["records", "import", str(city), "--department", "traffic-police"])
        from app.services.audit import chain
        monkeypatch.setattr(chain, "verify", _every_event(chain.verify))
    piped = runner.invoke(args=args)
    assert piped.exit_code == 0, piped.output
    assert label + ":" not in piped.stderr and "[" not in piped.stderr
    monkeypatch.setattr(options, "_is_terminal", lambda stream: True)
    shown = runner.invoke(args=args)
    assert shown.exit_code == 0, shown.output
    assert label in shown.stderr
    assert label + ":" not in shown.stdout  # the bar goes to stderr, the result to stdout


def _every_event(verify):
    def run(session, **kwargs):
        progress = kwargs.get("progress")
        if progress is not None:
            progress(0, 1, "events checked")
        return verify(session, **kwargs)
    return run

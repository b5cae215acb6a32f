"""A demo city: the sample rulebook's departments, a few hundred subjects with records
and list entries, one account per role. Reproducible from a seed; safe to run twice."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlmodel import Session

from app.errors import CitypointsError
from app.identifiers import organisation_id, person_id
from app.models import Account, Record, Subject
from app.rulebook import Rulebook
from app.services.accounts.users import create_account
from app.services.audit.chain import publish_digest
from app.services.due_process.objections import decide_objection, file_objection
from app.services.intake.drafts import ListEntryDraft, RecordDraft, SubjectDraft
from app.services.lists.entries import enter
from app.services.records.conduct import import_records
from app.services.reports.rankings import MONTH
from app.services.rulebooks.registry import store_rulebook
from app.services.standings.recompute import recompute
from app.services.subjects.register import import_subjects
from app.services.transaction import transaction

DEMO_PASSWORD = "citypoints-demo"
# Rongcheng's subdistricts and towns, with a few villages or neighbourhoods each, in
# Chinese with their pinyin: the register holds Chinese names, and an English reader
# still needs to say them.
PLACES = {
    "崖头街道 (Yatou Subdistrict)": ["东山 (Dongshan)", "西山 (Xishan)", "城西 (Chengxi)",
                                   "海洋 (Haiyang)"],
    "成山镇 (Chengshan Town)": ["成山卫 (Chengshanwei)", "龙须岛 (Longxu Island)",
                              "西大桥 (Xidaqiao)"],
    "石岛管理区 (Shidao Management Area)": ["石岛湾 (Shidao Bay)", "东村 (Dongcun)",
                                        "西村 (Xicun)"],
    "人和镇 (Renhe Town)": ["人和 (Renhe)", "东南 (Dongnan)", "北山 (Beishan)"],
}
SURNAMES = [("王", "Wang"), ("李", "Li"), ("张", "Zhang"), ("刘", "Liu"), ("陈", "Chen"),
            ("杨", "Yang"), ("赵", "Zhao"), ("黄", "Huang"), ("周", "Zhou"), ("吴", "Wu"),
            ("徐", "Xu"), ("孙", "Sun"), ("马", "Ma"), ("朱", "Zhu"), ("胡", "Hu"),
            ("郭", "Guo"), ("何", "He"), ("林", "Lin"), ("高", "Gao"), ("罗", "Luo")]
GIVEN = [("伟", "Wei"), ("芳", "Fang"), ("娜", "Na"), ("敏", "Min"), ("静", "Jing"),
         ("磊", "Lei"), ("强", "Qiang"), ("军", "Jun"), ("洋", "Yang"), ("艳", "Yan"),
         ("杰", "Jie"), ("涛", "Tao"), ("明", "Ming"), ("超", "Chao"), ("秀", "Xiu"),
         ("慧", "Hui"), ("平", "Ping"), ("刚", "Gang"), ("红", "Hong"), ("兰", "Lan")]
TRADES = [("水产加工", "Seafood Processing"), ("渔业合作社", "Fishing Cooperative"),
          ("建筑", "Construction"), ("商贸", "Trading"), ("物流", "Logistics"),
          ("轮胎", "Tyre Works"), ("船舶修造", "Shipyard"), ("食品", "Food"),
          ("物业服务", "Property Services"), ("纺织", "Textiles")]
# One designated person per tier, with the conduct that puts them there (points from the
# sample rulebook; everyone starts at 1000): every tier, AAA and D included, has someone.
TIER_EXAMPLES = [
    ("AAA", ["HEROIC-ACT", "HEROIC-ACT"]),
    ("AA", ["HEROIC-ACT", "BLOOD-DONATION"]),
    ("A", []),
    ("B", ["UTIL-DAMAGE"]),
    ("C", ["TRAFFIC-DRUNK"]),
    ("D", ["TRAFFIC-DRUNK", "TRAFFIC-DRUNK", "UTIL-DAMAGE"]),
]


def _person_name(rng: random.Random) -> str:
    surname, given = rng.choice(SURNAMES), rng.sample(GIVEN, rng.choice((1, 2)))
    hanzi = surname[0] + "".join(g[0] for g in given)
    pinyin = f"{surname[1]} {''.join(g[1] for g in given).capitalize()}"
    return f"{hanzi} ({pinyin})"


@dataclass
class DemoSummary:
    created: bool
    subjects: int = 0
    records: int = 0
    logins: list[tuple[str, str, str]] = field(default_factory=list)

    def text(self) -> str:
        """Return what `flask demo` prints: what was loaded and the logins."""
        head = (f"demo city loaded: {self.subjects} subjects, {self.records} records"
                if self.created else
                f"demo city already loaded ({self.subjects} subjects, {self.records} records); "
                "nothing added")
        lines = [head, "", f"logins (password for all: {DEMO_PASSWORD}):"]
        lines += [f"  {user:<14} {role:<12} {what}" for user, role, what in self.logins]
        return "\n".join(lines)


def _people(rng: random.Random, count: int) -> list[SubjectDraft]:
    rows = []
    for i in range(count):
        year = rng.randint(1960, 2006)
        # Rongcheng's region code changed in 1989 (stdnum checks it against the birth year).
        region = "371082" if year >= 1989 else "372133" if year < 1983 else "370633"
        if 1987 <= year <= 1988:
            region = "371023"
        birth = date(year, 1, 1) + timedelta(days=rng.randint(0, 364))
        prefix = f"{region}{birth:%Y%m%d}{i % 1000:03d}"
        district = rng.choice(list(PLACES))
        rows.append(SubjectDraft(subject_id=person_id(prefix), kind="person",
                                 name=_person_name(rng),
                                 district=district, village=rng.choice(PLACES[district]),
                                 consent=rng.random() < 0.9, line=i + 2))
    return rows


def _organisations(rng: random.Random, count: int,
                   people: list[SubjectDraft]) -> list[SubjectDraft]:
    rows = []
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    for i in range(count):
        body = "".join(rng.choice(alphabet) for _ in range(9))
        prefix = f"91371082{body}"
        district = rng.choice(list(PLACES))
        rep = people[rng.randrange(len(people))].subject_id
        surname, (trade_zh, trade_en) = rng.choice(SURNAMES), rng.choice(TRADES)
        rows.append(SubjectDraft(subject_id=organisation_id(prefix), kind="organisation",
                                 name=f"荣成市{surname[0]}氏{trade_zh}有限公司 "
                                      f"(Rongcheng {surname[1]}'s {trade_en} Co., Ltd.)",
                                 district=district, village=rng.choice(PLACES[district]),
                                 legal_representative=rep, consent=True,
                                 line=len(people) + i + 2))
    return rows


def load_demo(session: Session, *, rulebook: Rulebook, subjects: int, seed: int,
              today: date) -> DemoSummary:
    """Load the demo city unless it is there already; return what to print."""
    summary = DemoSummary(created=False)
    store_rulebook(session, rulebook, loaded_by="demo", source="demo")
    if session.execute(select(Account.id).where(Account.username == "admin")).first() is None:
        _create(session, rulebook=rulebook, count=subjects, seed=seed, today=today)
        summary.created = True
    summary.subjects = session.execute(select(func.count()).select_from(Subject)).scalar()
    summary.records = session.execute(select(func.count()).select_from(Record)).scalar()
    for account in session.execute(select(Account).order_by(Account.id)).scalars():
        what = account.department_code or account.subject_id or ""
        summary.logins.append((account.username, account.role, what))
    return summary


def _weights(rulebook: Rulebook, codes) -> list[float]:
    # Minor conduct is common and serious conduct rare, as in any city's files.
    return [1.0 / max(1, abs(rulebook.versions(c)[-1].points)) ** 0.8 for c in codes]


def _create(session: Session, *, rulebook: Rulebook, count: int, seed: int, today: date) -> None:
    rng = random.Random(seed)
    people = _people(rng, max(1, int(count * 0.85)))
    orgs = _organisations(rng, max(0, count - len(people)), people)
    import_subjects(session, people + orgs, name="demo", actor="demo", department=None,
                    today=today)
    kinds = {r.subject_id: r.kind for r in people + orgs}
    ids = list(kinds)
    start = today - timedelta(days=3 * 365)
    planned: list[tuple[date, str, str, str]] = []
    for department in rulebook.departments:
        codes = rulebook.codes_for_department(department.code)
        if not codes:
            continue
        weights = _weights(rulebook, codes)
        for _ in range(int(len(ids) * 0.8 * len(codes) / max(1, len(rulebook.rule_codes)) + 2)):
            code = rng.choices(codes, weights)[0]
            subject = rng.choice(ids)
            day = start + timedelta(days=rng.randint(0, (today - start).days))
            rule = rulebook.rule_on(code, day)
            if rule is None or kinds[subject] not in rule.subjects or \
                    department.code not in rule.departments:
                continue
            planned.append((day, department.code, subject, code))
    planned = _tier_examples(rulebook, planned, people, today)
    planned.sort()
    # Each day's records are imported on that day, so their notices carry the day they
    # were made, as a city's would.
    by_day: dict[tuple[date, str], list[RecordDraft]] = {}
    for n, (day, department, subject, code) in enumerate(planned):
        by_day.setdefault((day, department), []).append(RecordDraft(
            subject_id=subject, rule_code=code, occurred_on=day,
            evidence=f"demo file {department}/{day:%Y}/{n:05d}", external_ref=f"demo-{n:05d}",
            line=n + 2))
    for (day, department), drafts in sorted(by_day.items()):
        import_records(session, drafts, rulebook=rulebook, department=department,
                       recorded_by=f"demo:{department}", today=day, name="demo")
    _lists(session, rulebook=rulebook, rng=rng, ids=ids, kinds=kinds, today=today)
    _accounts(session, rulebook=rulebook, people=people, today=today)
    _objections(session, rulebook=rulebook, rng=rng, today=today)
    # A run a month back first, so the rankings have a change since last month to show.
    recompute(session, rulebook=rulebook, as_of=MONTH.before(today), triggered_by="demo")
    recompute(session, rulebook=rulebook, as_of=today, triggered_by="demo")
    with transaction(session):  # the transparency page has a digest to show
        publish_digest(session, day=today)


def _tier_examples(rulebook: Rulebook, planned, people, today):
    """Give one person per tier exactly the conduct that puts them there (in place of their
    random records), when the rulebook is the sample's; otherwise leave the plan alone."""
    tiers = {t.code for t in rulebook.scheme.tiers}
    needed = {code for _, codes in TIER_EXAMPLES for code in codes}
    if not {tier for tier, _ in TIER_EXAMPLES} <= tiers or not needed <= set(rulebook.rule_codes):
        return planned
    persons = [p.subject_id for p in people][:len(TIER_EXAMPLES)]
    if len(persons) < len(TIER_EXAMPLES):
        return planned
    planned = [p for p in planned if p[2] not in persons]
    for subject, (_, codes) in zip(persons, TIER_EXAMPLES, strict=True):
        for k, code in enumerate(codes):
            day = today - timedelta(days=70 + 7 * k)  # before the objections the demo files
            department = next(d.code for d in rulebook.departments
                              if code in rulebook.codes_for_department(d.code, day))
            planned.append((day, department, subject, code))
    return planned


def _objections(session, *, rulebook, rng, today) -> None:
    # A few subjects object to recent records: some decided (one annulled), some pending.
    recent = list(session.execute(
        select(Record.id, Record.subject_id).where(Record.occurred_on >= today - timedelta(days=60))
        .order_by(Record.id)).all())
    for n, (record_id, subject_id) in enumerate(rng.sample(recent, min(8, len(recent)))):
        try:
            objection = file_objection(session, rulebook=rulebook, subject_id=subject_id,
                                       record_id=record_id, reason="This was not me.",
                                       actor="demo", today=today)
        except CitypointsError:  # e.g. the window closed: that subject does not object
            continue
        if n < 3:
            decide_objection(session, rulebook=rulebook, objection_id=objection.id,
                             outcome="annulled" if n == 0 else "upheld",
                             reason="Checked against the department's file.",
                             reviewer="reviewer", today=today)


def _lists(session, *, rulebook, rng, ids, kinds, today) -> None:
    for list_def in rulebook.lists:
        if not list_def.departments:
            continue
        department = list_def.departments[0]
        if list_def.kind == "watchlist":
            flagged = rng.sample(ids, min(3, len(ids)))
            for subject in flagged:  # three entries within a year: the flag is raised
                for k in range(3):
                    enter(session, ListEntryDraft(
                        subject_id=subject, list_code=list_def.code,
                        entered_on=today - timedelta(days=30 + 90 * k),
                        decision_ref=f"PS-{subject[-6:]}-{k + 1}"), rulebook=rulebook,
                        department=list_def.departments[k % len(list_def.departments)],
                        today=today - timedelta(days=30 + 90 * k), actor="demo")
            continue
        for subject in rng.sample(ids, min(4, len(ids))):
            entered_on = today - timedelta(days=rng.randint(10, 300))
            enter(session, ListEntryDraft(
                subject_id=subject, list_code=list_def.code, entered_on=entered_on,
                decision_ref=f"({entered_on.year}) Lu 1082 Zhi {rng.randint(100, 999)}"),
                rulebook=rulebook, department=department, today=entered_on,
                actor="court" if department == "court" else "demo")


def _accounts(session, *, rulebook, people, today) -> None:
    # The resident account belongs to the person with the most records: a rich page to read.
    resident = session.execute(
        select(Record.subject_id, func.count())
        .join(Subject, Subject.subject_id == Record.subject_id)
        .where(Subject.kind == "person").group_by(Record.subject_id)
        .order_by(func.count().desc(), Record.subject_id).limit(1)).first()
    subject_id = resident[0] if resident else people[0].subject_id
    recorder_dept = "traffic-police" if rulebook.department("traffic-police") else \
        rulebook.departments[0].code
    heating = "heating-company" if rulebook.department("heating-company") else recorder_dept
    reviewer_dept = "credit-centre" if rulebook.department("credit-centre") else recorder_dept
    for username, role, department, subject in [
        ("admin", "admin", None, None),
        ("recorder", "recorder", recorder_dept, None),
        ("heating", "recorder", heating, None),
        ("reviewer", "reviewer", reviewer_dept, None),
        *([("court", "recorder", "court", None)] if rulebook.department("court") else []),
        ("author", "rule-author", None, None),
        ("auditor", "auditor", None, None),
        ("resident", "resident", None, subject_id),
    ]:
        create_account(session, username=username, password=DEMO_PASSWORD, role=role,
                       department=department, subject_id=subject, actor="demo")

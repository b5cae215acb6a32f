"""Delivering the outbox: by email through one pluggable channel (SMTP when the city has a
mail server), otherwise by printed letter.

A notice is never lost. An attempt first claims its outbox row (a lease in
`next_attempt_at`, committed), then sends, then records the outcome. A server that refuses
or drops the connection, or answers 4xx, leaves the row `pending` with the error and a
later retry time (backing off), and stops the batch. A permanent refusal (5xx for the
recipient or the message), or too many attempts, marks it `failed`: it then waits on the
letters page to be printed and posted. A process that dies after the server took a
message but before `sent` was stored sends it again when the lease runs out (each
message has a stable Message-ID, so a mail client can drop the copy): at least once.
"""

from __future__ import annotations

import smtplib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Protocol

from flask_babel import force_locale, gettext
from sqlalchemy import and_, func, or_, select, update
from sqlmodel import Session

from app.models import Notice, NoticeOutbox, Subject, SubjectContact, utcnow
from app.services.audit import chain as audit
from app.services.due_process.notice_render import notice_language, read
from app.services.due_process.notices import full_contents
from app.services.locks import begin_write
from app.services.transaction import atomic, in_transaction, transaction

LEASE = timedelta(minutes=10)  # a claimed row is retried after this if its sender died
MAX_BACKOFF = timedelta(hours=6)
DEFAULT_MAX_ATTEMPTS = 10


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str
    message_id: str


class PermanentFailure(Exception):
    """The server refused this message for good (a 5xx for the recipient or the content)."""


class Channel(Protocol):
    """Something that sends mail: `open()` returns a connection with `send` and `close`."""

    name: str

    def open(self) -> Connection: ...


class Connection(Protocol):
    def send(self, mail: Mail) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SmtpChannel:
    host: str
    port: int = 25
    sender: str = "citypoints@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0
    name: str = "email"

    def open(self) -> _SmtpConnection:
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.starttls:
                client.starttls()
            if self.username:
                client.login(self.username, self.password or "")
        except BaseException:
            client.close()
            raise
        return _SmtpConnection(client, self.sender)


class _SmtpConnection:
    def __init__(self, client: smtplib.SMTP, sender: str):
        self.client, self.sender = client, sender

    def send(self, mail: Mail) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = format_datetime(utcnow())
        message["Message-ID"] = mail.message_id
        message.set_content(mail.body)
        try:
            if (self.sender + mail.to).isascii():
                # smtplib flattens an ASCII message with mangle_from_ on: a line of the notice
                # that starts with "From " would reach the resident as ">From ".
                self.client.sendmail(self.sender, [mail.to], message.as_bytes(
                    policy=message.policy.clone(linesep="\r\n")))
            else:
                self.client.send_message(message)  # SMTPUTF8, without mangling
        except smtplib.SMTPRecipientsRefused as error:
            if all(code >= 500 for code, _msg in error.recipients.values()):
                raise PermanentFailure(_describe(error)) from error
            raise
        except smtplib.SMTPDataError as error:
            if error.smtp_code >= 500:
                raise PermanentFailure(_describe(error)) from error
            raise

    def close(self) -> None:
        try:
            self.client.quit()
        except (OSError, smtplib.SMTPException):
            self.client.close()


def channel_from_config(config: Mapping) -> SmtpChannel | None:
    """Return the SMTP channel the configuration names (MAIL_SERVER, ...), or None."""
    host = config.get("MAIL_SERVER")
    if not host:
        return None
    return SmtpChannel(
        host=str(host), port=int(config.get("MAIL_PORT") or 25),
        sender=str(config.get("MAIL_FROM") or "citypoints@localhost"),
        username=config.get("MAIL_USERNAME") or None,
        password=config.get("MAIL_PASSWORD") or None,
        starttls=bool(config.get("MAIL_STARTTLS", False)),
        timeout=float(config.get("MAIL_TIMEOUT") or 10.0))


def _describe(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        parts = [f"{addr}: {code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
                 for addr, (code, msg) in error.recipients.items()]
        return "recipient refused: " + "; ".join(parts)
    if isinstance(error, smtplib.SMTPResponseException):
        msg = error.smtp_error
        text = msg.decode(errors="replace") if isinstance(msg, bytes) else str(msg)
        return f"{type(error).__name__}: {error.smtp_code} {text}"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def backoff(attempts: int) -> timedelta:
    """Return the wait before the next attempt after `attempts` failed ones (1, 2, 4 ... min)."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


@dataclass
class DeliveryResult:
    sent: int = 0
    retrying: int = 0  # failed for now, still pending (a later run tries again)
    failed: int = 0  # given up on email: waiting to be printed as a letter
    errors: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed


def _has_email():
    return and_(SubjectContact.email.is_not(None), SubjectContact.email != "")


def _due(now: datetime):
    return (NoticeOutbox.state == "pending",
            or_(NoticeOutbox.next_attempt_at.is_(None), NoticeOutbox.next_attempt_at <= now))


@dataclass(frozen=True)
class _Text:
    id: int
    title: str
    body: str


def _mail(notice: _Text, to: str, language: str = "en") -> Mail:
    footer = "This notice is also in your inbox on your page."
    if language != "en":
        with force_locale(language):
            footer = gettext("This notice is also in your inbox on your page.")
    return Mail(to=to, subject=f"citypoints: {notice.title}",
                body=notice.body + "\n\n" + footer,
                message_id=make_msgid(idstring=f"notice-{notice.id}", domain="citypoints"))


def deliver_pending(session: Session, *, channel: Channel | None, now: datetime | None = None,
                    limit: int = 200, max_attempts: int = DEFAULT_MAX_ATTEMPTS,
                    actor: str = "system", default_language: str = "en") -> DeliveryResult:
    """Send the due pending notices of subjects with an email address through `channel`,
    each in its subject's language (`default_language` if they have none).

    Without a channel nothing is sent: the notices wait as letters to print. Each attempt
    commits its claim before sending and its outcome after, so this use case is never part
    of another's transaction.
    """
    result = DeliveryResult()
    if channel is None:
        return result
    if in_transaction(session):
        raise RuntimeError("deliver_pending commits each attempt on its own; call it outside "
                           "any other transaction")
    now = now or utcnow()
    with transaction(session):
        due = session.execute(
            select(NoticeOutbox.id, Notice.id, Notice.title, Notice.body, SubjectContact.email,
                   Notice.kind, Notice.content, Subject.language)
            .join(Notice, Notice.id == NoticeOutbox.notice_id)
            .join(SubjectContact, SubjectContact.subject_id == Notice.subject_id)
            .join(Subject, Subject.subject_id == Notice.subject_id)
            .where(*_due(now), _has_email()).order_by(NoticeOutbox.id).limit(limit)).all()
        contents = full_contents(session, [row.content for row in due])
    connection = None
    try:
        for (outbox_id, notice_id, title, body, email, kind, _stored, own), content in zip(
                due, contents, strict=True):
            language = notice_language(own, default_language)
            notice = _Text(notice_id, *read(kind, content, title, body, language))
            with transaction(session):
                claimed = session.execute(
                    update(NoticeOutbox).where(NoticeOutbox.id == outbox_id, *_due(now))
                    .values(next_attempt_at=now + LEASE, attempts=NoticeOutbox.attempts + 1,
                            channel=channel.name, recipient=email)
                    .returning(NoticeOutbox.attempts)
                    .execution_options(synchronize_session=False)).scalar_one_or_none()
            if claimed is None:
                continue  # another sender took it
            try:
                if connection is None:
                    connection = channel.open()
                connection.send(_mail(notice, email, language))
            except PermanentFailure as error:
                _finish(session, outbox_id, state="failed", error=str(error))
                result.failed += 1
                result.errors.append(f"notice {notice.id}: {error}")
            except (OSError, smtplib.SMTPException) as error:
                given_up = claimed >= max_attempts
                _finish(session, outbox_id, state="failed" if given_up else "pending",
                        error=_describe(error),
                        retry_at=None if given_up else now + backoff(claimed))
                result.failed += given_up
                result.retrying += not given_up
                result.errors.append(f"notice {notice.id}: {_describe(error)}")
                if connection is not None:
                    connection.close()
                    connection = None
                break  # the server is unwell: leave the rest for the next run
            else:
                _finish(session, outbox_id, state="sent", sent=True)
                result.sent += 1
    finally:
        if connection is not None:
            connection.close()
        session.expire_all()  # the outbox rows were changed by statements, not through objects
    if result.attempted:
        with transaction(session):
            audit.append(session, actor=actor, action="notices.deliver", target="outbox",
                         details={"channel": channel.name, "sent": result.sent,
                                  "retrying": result.retrying, "failed": result.failed})
    return result


def _finish(session: Session, outbox_id: int, *, state: str, error: str | None = None,
            retry_at: datetime | None = None, sent: bool = False) -> None:
    values: dict = {"state": state, "next_attempt_at": retry_at}
    if error is not None:
        values["last_error"] = error[:2000]
    if sent:
        values["sent_at"] = utcnow()
    with transaction(session):
        session.execute(update(NoticeOutbox).where(NoticeOutbox.id == outbox_id)
                        .values(**values).execution_options(synchronize_session=False))


# --- letters ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Letter:
    outbox: NoticeOutbox
    notice: Notice
    subject: Subject
    email: str | None
    title: str = ""  # the notice in the subject's language (see notice_render)
    body: str = ""


def _letter_filter(email_enabled: bool):
    unsent = NoticeOutbox.state != "sent"
    if not email_enabled:
        return (unsent,)
    return (unsent, or_(NoticeOutbox.state == "failed", SubjectContact.email.is_(None),
                        SubjectContact.email == ""))


def pending_letters(session: Session, *, email_enabled: bool, limit: int = 500,
                    outbox_ids: Sequence[int] | None = None, offset: int = 0,
                    default_language: str = "en") -> list[Letter]:
    """Return the notices to print and post: all unsent ones without a mail server; with
    one, those of subjects without an address and those email gave up on. Oldest first,
    `limit` of them from `offset`; each in its subject's language (`default_language` if
    they have none)."""
    query = (select(NoticeOutbox, Notice, Subject, SubjectContact.email)
             .join(Notice, Notice.id == NoticeOutbox.notice_id)
             .join(Subject, Subject.subject_id == Notice.subject_id)
             .outerjoin(SubjectContact, SubjectContact.subject_id == Notice.subject_id)
             .where(*_letter_filter(email_enabled)))
    if outbox_ids is not None:
        query = query.where(NoticeOutbox.id.in_(list(outbox_ids)))
    rows = session.execute(query.order_by(NoticeOutbox.id).limit(limit).offset(offset)).all()
    contents = full_contents(session, [n.content for _o, n, _s, _e in rows])
    return [Letter(o, n, s, e, *read(n.kind, c, n.title, n.body,
                                     notice_language(s.language, default_language)))
            for (o, n, s, e), c in zip(rows, contents, strict=True)]


def count_pending_letters(session: Session, *, email_enabled: bool) -> int:
    """Return how many letters wait to be printed and posted (see pending_letters)."""
    return session.execute(
        select(func.count()).select_from(NoticeOutbox)
        .join(Notice, Notice.id == NoticeOutbox.notice_id)
        .join(Subject, Subject.subject_id == Notice.subject_id)
        .outerjoin(SubjectContact, SubjectContact.subject_id == Notice.subject_id)
        .where(*_letter_filter(email_enabled))).scalar_one()


@atomic
def letters_to_print(session: Session, *, email_enabled: bool, viewer: str,
                     limit: int = 500, offset: int = 0,
                     default_language: str = "en") -> list[Letter]:
    """Return the letters to print and post (see pending_letters); audit `viewer`'s look."""
    found = pending_letters(session, email_enabled=email_enabled, limit=limit, offset=offset,
                            default_language=default_language)
    if found:
        audit.append(session, actor=viewer, action="notices.letters.view", target="outbox",
                     details={"letters": len(found)})
    return found


@atomic
def mark_letters_posted(session: Session, *, outbox_ids: Sequence[int], email_enabled: bool,
                        actor: str) -> int:
    """Mark printed letters as posted (sent by letter); return how many were marked."""
    ids = sorted({int(i) for i in outbox_ids if 0 < int(i) < 2**31})[:2000]
    if not ids:
        return 0
    begin_write(session, "notices")
    letters = {letter.outbox.id for letter in pending_letters(
        session, email_enabled=email_enabled, limit=len(ids), outbox_ids=ids)}
    done = 0
    if letters:
        done = session.execute(
            update(NoticeOutbox).where(NoticeOutbox.id.in_(sorted(letters)),
                                       NoticeOutbox.state != "sent")
            .values(state="sent", channel="letter", sent_at=utcnow(), sent_by=actor,
                    next_attempt_at=None)).rowcount
        audit.append(session, actor=actor, action="notices.posted", target="outbox",
                     details={"outbox_ids": sorted(letters), "marked": done})
    return done

"""The city's clock: "today" is the date in the city's time zone (`TIMEZONE`), never the
host's. Edges (pages, the API, commands, the scheduler) ask here and hand the date to the
services as a plain value; where a service turns stored instants into days (records entered
per day, the day a notice was sent) it asks here too. Nothing else asks the host."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Shanghai"


@lru_cache(maxsize=16)
def zone(name: str) -> ZoneInfo:
    """Return the time zone called `name` (an IANA name such as Asia/Shanghai)."""
    return ZoneInfo(name)


def city_zone() -> ZoneInfo:
    """Return the city's time zone: the current app's `TIMEZONE`, else the default."""
    from flask import current_app, has_app_context  # the clock serves every layer

    name = current_app.config.get("TIMEZONE") if has_app_context() else None
    return zone(name or DEFAULT_ZONE)


def now() -> datetime:
    """Return the current moment, aware, in the city's time zone."""
    return datetime.now(UTC).astimezone(city_zone())


def today() -> date:
    """Return today's date in the city."""
    return now().date()


def day_of(moment: datetime) -> date:
    """Return the city's date at `moment` (a naive moment is taken as UTC, as stored)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(city_zone()).date()


def day_start(day: date) -> datetime:
    """Return the moment (aware, UTC) the city's `day` begins: its midnight in city time."""
    return datetime.combine(day, time(), city_zone()).astimezone(UTC)

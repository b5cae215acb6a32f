"""Two languages: Simplified Chinese and English, with Flask-Babel message catalogues.

The language is the one the user picked (a cookie set by ``/language/<code>``), else the
best match for the browser's Accept-Language, else English. Catalogues live in
``app/translations``; README "Translations" says how to extract, update and compile them.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from urllib.parse import urlsplit

from babel.dates import format_date
from flask import Blueprint, Flask, abort, redirect, request
from flask_babel import Babel, format_decimal, get_locale, ngettext

from app import clock
from app.rulebook.model import Duration, text_in, title_in

LANGUAGES = {"en": "English", "zh": "简体中文"}  # code -> the language's own name
HTML_LANG = {"en": "en", "zh": "zh-Hans"}
DEFAULT = "en"
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600

babel = Babel()
bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    """Return the language of this request: the user's pick, else the browser's, else English."""
    picked = request.cookies.get(COOKIE)
    if picked in LANGUAGES:
        return picked
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT)


def current_language() -> str:
    """Return the code (en, zh) of the language pages are rendered in."""
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else DEFAULT


def _safe_next(target: str | None) -> str:
    """Return `target` if it is a path on this site, else the home page."""
    if not target:
        return "/"
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"  # browsers read /\host as //host
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


# How pages show a day: ISO in English (unambiguous, as in the files and the API); the usual
# 2024年1月31日 in Chinese.
DATE_FORMATS = {"en": "yyyy-MM-dd", "zh": "medium"}


def local_title(item: object) -> str:
    """Return the title of a rulebook item (scheme, tier, rule...) in the page's language."""
    return title_in(item, current_language())


def local_text(item: object, key: str) -> str:
    """Return a text of a rulebook item (description, legal_basis...) in the page's language."""
    return text_in(item, key, current_language())


def local_day(value: date | None) -> str:
    """Return `value` as people read a day in the page's language ("" for none); an instant
    (a datetime, naive ones being UTC as stored) reads as the city's day at that moment."""
    if value is None or value == "":
        return ""
    if not isinstance(value, date):
        return str(value)
    if isinstance(value, datetime):  # an instant: the city's day at that moment
        value = clock.day_of(value)
    return _day_in(value, current_language())


@lru_cache(maxsize=8192)
def _day_in(value: date, language: str) -> str:
    # A day reads the same in a language whoever asks (the locale is the language, a date
    # has no time zone): a page names the same few hundred days many times over.
    return format_date(value, DATE_FORMATS[language], locale=language)


def local_duration(value: object) -> str:
    """Return a duration as written ("1y") in English pages, in words in the others."""
    if current_language() == DEFAULT:
        return str(value or "")
    try:
        duration = value if isinstance(value, Duration) else Duration.parse(str(value or ""))
    except ValueError:
        return str(value or "")
    if duration.unit == "d":
        return ngettext("%(num)d day", "%(num)d days", duration.count)
    if duration.unit == "m":
        return ngettext("%(num)d month", "%(num)d months", duration.count)
    return ngettext("%(num)d year", "%(num)d years", duration.count)


def local_change(data: dict) -> str:
    """Return a rulebook change ({code, values}: app.rulebook.diff.Change) in the page's
    language: English as the API and the authors' pages say it, else the catalogue's words."""
    from app.rulebook.change_words import english, wording
    from app.rulebook.diff import Change
    from app.services.due_process.notice_render import change_words

    change = Change.from_json(data)
    return english(change) if current_language() == DEFAULT else wording(change, change_words())


def local_number(value: float | int | None) -> str:
    """Return a number with the page language's grouping (12,345)."""
    return "" if value is None else format_decimal(value)


@bp.get("/language/<code>")
def choose(code: str):
    """Remember the language picked and go back to the page it was picked on."""
    if code not in LANGUAGES:
        abort(404)
    response = redirect(_safe_next(request.args.get("next")))
    response.set_cookie(COOKIE, code, max_age=COOKIE_MAX_AGE, samesite="Lax",
                        secure=request.is_secure, httponly=True)
    return response


def init_app(app: Flask) -> None:
    """Set up Flask-Babel and the language switch."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    babel.init_app(app, locale_selector=select_locale)
    app.register_blueprint(bp)
    app.add_template_filter(local_title, "local_title")
    app.add_template_filter(local_text, "local_text")
    app.add_template_filter(local_day, "day")
    app.add_template_filter(local_number, "number")
    app.add_template_filter(local_change, "rulebook_change")
    from app.web.terms import term, web_message

    app.add_template_global(term, "term")
    app.add_template_global(web_message, "web_message")
    app.add_template_global(local_duration, "local_duration")
    from app.standing.because import english

    app.add_template_global(english, "english")

    @app.context_processor
    def _language():
        code = current_language()
        return {"languages": LANGUAGES, "current_language": code,
                "html_lang": HTML_LANG[code]}

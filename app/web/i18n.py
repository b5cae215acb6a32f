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
from flask import Blueprint, Flask, abort, g, redirect, request
from flask_babel import Babel, format_decimal, get_locale, get_translations, ngettext
from jinja2 import pass_context
from markupsafe import Markup

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


def _request_locale():
    """Return the request's locale as Flask-Babel chose it (or one `force_locale` put).

    Flask-Babel keeps it on `g._flask_babel.babel_locale` once chosen; reading it there is
    one context lookup, where `get_locale()` takes three and a page asks a few hundred times
    (every title, text and day). Anything else (not chosen yet, outside a request, another
    Flask-Babel) goes the documented way.
    """
    try:
        locale = g._flask_babel.babel_locale
    except (AttributeError, RuntimeError):
        return get_locale()
    return locale if locale is not None else get_locale()


def current_language() -> str:
    """Return the code (en, zh) of the language pages are rendered in."""
    locale = _request_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else DEFAULT


def page_translations():
    """Return the message catalogue of the request's language.

    The same object `flask_babel.get_translations()` returns, remembered on the request for
    the locale it was found for: a page translates 100-200 messages, and Flask-Babel looks
    the catalogue up again for each (about ten context lookups and a locale formatted to a
    string each time). A `force_locale` block puts another locale object, so it gets its
    own catalogue, and the page's again once the block restores the page's locale.
    """
    try:
        ctx = g._flask_babel
        locale = ctx.babel_locale
    except (AttributeError, RuntimeError):
        return get_translations()
    cached = ctx.__dict__.get("citypoints_translations")
    if locale is not None and cached is not None and cached[0] is locale:
        return cached[1]
    translations = get_translations()
    ctx.citypoints_translations = (ctx.babel_locale, translations)
    return translations


@pass_context
def _template_gettext(context, string: str, **variables):
    # Jinja's newstyle gettext (jinja2.ext._make_new_gettext) over page_translations().
    message = page_translations().ugettext(string)
    if context.eval_ctx.autoescape:
        message = Markup(message)
    return message % variables


@pass_context
def _template_ngettext(context, singular: str, plural: str, num: int, **variables):
    variables.setdefault("num", num)
    message = page_translations().ungettext(singular, plural, num)
    if context.eval_ctx.autoescape:
        message = Markup(message)
    return message % variables


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
    # The same newstyle callables Flask-Babel installs, with the catalogue found once a page;
    # `_` is gettext itself, not Jinja's alias that looks `gettext` up and calls it again.
    app.jinja_env.globals.update(gettext=_template_gettext, ngettext=_template_ngettext,
                                 _=_template_gettext)
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

"""The web edge: one blueprint per audience, login, CSRF, error pages and JSON errors."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

from flask import Flask, current_app, render_template, request
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from app import clock
from app.db import get_session
from app.errors import CitypointsError
from app.models import Account
from app.services.rulebooks.registry import EXTENSION_KEY as RULEBOOKS

PAGE_MESSAGES = {403: "you may not open this page", 404: "there is no such page",
                 405: "that method is not allowed here", 413: "the upload is too large"}
login_manager = LoginManager()
csrf = CSRFProtect()


class User:
    """The logged-in account as Flask-Login sees it."""

    def __init__(self, account: Account):
        self.account = account
        self.id = account.id
        self.role = account.role
        self.username = account.username
        self.department = account.department_code
        self.subject_id = account.subject_id
        self.display_name = account.display_name or account.username
        self.is_authenticated = True
        self.is_active = account.active
        self.is_anonymous = False

    def get_id(self) -> str:
        """The session's user id: the account and its session generation ("12.3")."""
        return f"{self.account.id}.{self.account.session_generation}"


def department_name(code: str | None) -> str:
    """Return a department's title in the page's language; its code if the rulebook has none."""
    if not code:
        return ""
    from app.web.i18n import local_title

    try:
        department = rulebook().department(code)
    except CitypointsError:  # no rulebook in force: the code is all there is
        return code
    return (local_title(department) or code) if department is not None else code


@login_manager.user_loader
def _load_user(user_id: str):
    """Load the account of a session, if that session has not been ended since.

    Logout, deactivation and a new password raise the account's session generation, so
    a cookie saved before any of them (the session or the remember-me cookie) opens
    nothing.
    """
    account_id, _, generation = user_id.partition(".")
    if not account_id.isdigit() or not generation.isdigit():
        return None
    account = get_session().get(Account, int(account_id))
    if account is None or not account.active or account.session_generation != int(generation):
        return None
    return User(account)


def rulebook():
    """Return the rulebook in force today for this app (not one scheduled for later)."""
    return current_app.extensions[RULEBOOKS].in_force_today()


def rulebook_state():
    """Return what the registry knows: the rulebook in force and the last refused load."""
    registry = current_app.extensions[RULEBOOKS]
    try:
        registry.current()
    except CitypointsError:
        pass
    return registry.state


def today() -> date:
    """Return today in the city (`TIMEZONE`): what every page and API call means by today."""
    return clock.today()


def same_origin_request() -> bool:
    """Return whether the request was sent by this site's own pages, or typed or bookmarked;
    not by a link, form or script on another site (which must not make an official look).

    The browser says so in Sec-Fetch-Site; without it, an Origin or Referer naming another
    host means another site.
    """
    fetch = request.headers.get("Sec-Fetch-Site")
    if fetch is not None:
        return fetch in ("same-origin", "none")
    for header in ("Origin", "Referer"):
        value = request.headers.get(header)
        if value:
            return urlsplit(value).netloc == request.host
    return True


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def init_web(app: Flask) -> None:
    """Register login, CSRF, blueprints, template helpers and error handlers."""
    from app.web import (
        admin,
        api,
        audit_pages,
        auth,
        authors,
        exports,
        i18n,
        jobs,
        public,
        residents,
        transparency,
    )
    from app.web.api.errors import json_error
    from app.web.officials import bp as officials
    from app.web.officials import intake, lists, rankings
    from app.web.terms import web_message

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see that page."
    login_manager.localize_callback = web_message  # the message in the page's language
    csrf.init_app(app)
    i18n.init_app(app)
    blueprints = (public.bp, auth.bp, residents.bp, officials, authors.bp, api.bp,
                  transparency.bp, lists.bp, intake.bp, admin.bp, audit_pages.bp, rankings.bp,
                  jobs.bp)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    csrf.exempt(api.bp)  # the API authenticates by bearer token, not by cookie
    exports.init_app(app)

    app.add_template_global(department_name, "department_name")
    app.add_template_filter(department_name, "department_name")
    from app.web.charts import fit_label

    app.add_template_filter(fit_label, "fit_label")

    @app.context_processor
    def _globals():
        return {"current_user": current_user, "today": today()}

    @app.errorhandler(CitypointsError)
    def _user_error(error: CitypointsError):
        if _wants_json():
            return json_error(error)
        return render_template("error.html", error=error), error.status

    @app.errorhandler(CSRFError)
    def _csrf_error(error):
        return render_template("error.html", error=CitypointsError(
            "the form expired or was sent from elsewhere; go back, reload it and send it "
            "again")), 400

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        message = PAGE_MESSAGES.get(error.code or 500)
        if _wants_json():
            return json_error(error, message)
        if message is None:
            return error.get_response()  # Werkzeug's own page
        page_error = CitypointsError(message)
        page_error.status = error.code or 500
        return render_template("error.html", error=page_error), page_error.status

    @app.after_request
    def _headers(response):
        if request.endpoint != "static":
            # Pages and answers carry personal data (a standing, a file, a list, accounts):
            # no browser or proxy may keep a copy.
            response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'self'")
        return response

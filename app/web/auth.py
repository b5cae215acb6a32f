"""Logging in and out, and `role_required`, the check every protected page uses."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from app.db import get_session
from app.errors import InvalidInput
from app.services.accounts.users import (
    RESIDENT,
    Throttled,
    authenticate,
    change_password,
    end_sessions,
)
from app.web import User, login_manager
from app.web.forms import LoginForm, PasswordForm

bp = Blueprint("auth", __name__)

WRONG_LOGIN = "user name or password is wrong"


def role_required(*roles: str):
    """Let only logged-in accounts with one of `roles` in; send others to log in, or 403."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def home_for(user) -> str:
    """Return where an account lands after logging in."""
    return url_for("residents.me") if user.role == RESIDENT else url_for("officials.home")


def local_path(target: str | None) -> str | None:
    """Return `target` if it is a path on this site, else None (no open redirects)."""
    target = (target or "").strip()
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form; log in and go to `next` (a local path) or the role's home."""
    target = local_path(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(target or home_for(current_user))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            account = authenticate(get_session(), username=form.username.data,
                                   password=form.password.data,
                                   address=request.remote_addr or "")  # see PROXY_FIX_*
        except Throttled as throttled:
            return render_template("auth/login.html", form=form, error=throttled.message,
                                   next=target), throttled.status, {
                                       "Retry-After": str(throttled.retry_after)}
        if account is None:
            error = WRONG_LOGIN
        else:
            session.clear()  # a fresh session for the new login (no fixation)
            user = User(account)
            login_user(user)
            return redirect(target or home_for(user))
    return render_template("auth/login.html", form=form, error=error, next=target)


@bp.post("/logout")
def logout():
    """Log out (a POST with the CSRF token, so no other site can do it for you).

    Every session of the account ends, here and on any other device: a copy of the
    cookie saved before opens nothing afterwards.
    """
    if current_user.is_authenticated:
        end_sessions(get_session(), account_id=current_user.id)
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("public.index"))


@bp.route("/account/password", methods=["GET", "POST"])
def password():
    """Change one's own password; every other session of the account ends, this one goes
    on under the new generation."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    form = PasswordForm()
    error = None
    if form.validate_on_submit():
        try:
            account = change_password(get_session(), account_id=current_user.id,
                                      new_password=form.new.data or "",
                                      current_password=form.current.data or "",
                                      actor=current_user.username)
        except InvalidInput as problem:
            error = problem.message
        else:
            session.clear()
            login_user(User(account))
            flash(_("Your password is changed; every other session of your account has "
                    "ended."), "success")
            return redirect(home_for(current_user))
    return render_template("auth/password.html", form=form, error=error), 422 if error else 200

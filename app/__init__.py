"""citypoints: a city's conduct points scheme with published rules and due process."""

from __future__ import annotations

import os

import click
from flask import Flask

from app import config as default_config


def create_app(test_config: dict | None = None) -> Flask:
    """Create and wire the app: config, database, rulebook, login, CSRF, blueprints, CLI."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(default_config.defaults(app.instance_path))
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env()
    else:
        app.config.from_mapping(test_config)
    _refuse_default_secret(app)
    secure = app.config.get("SECURE_COOKIES")
    if secure is None:  # outside development and tests, cookies go over HTTPS only
        secure = not (app.debug or app.testing)
    app.config["SESSION_COOKIE_SECURE"] = app.config["REMEMBER_COOKIE_SECURE"] = bool(secure)
    if app.config["DATABASE_URL"].startswith("sqlite:///"):
        os.makedirs(app.instance_path, exist_ok=True)

    from app import cli, db
    from app.services.audit import seals
    from app.services.rulebooks.registry import RulebookRegistry
    from app.web import init_web

    seals.install()  # every commit seals the facts it wrote
    db.init_app(app)
    RulebookRegistry.init_app(app)
    init_web(app)
    cli.init_app(app)
    return app


def _serving() -> bool:
    """Return False for a `flask` command other than `run` (it signs no cookies)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return True  # gunicorn or any other WSGI server
    names = {ctx.info_name, ctx.invoked_subcommand}
    while ctx is not None:
        names.update({ctx.info_name, ctx.invoked_subcommand})
        ctx = ctx.parent
    return "run" in names


def _refuse_default_secret(app: Flask) -> None:
    """Refuse to serve outside debug and testing with the built-in development secret key."""
    if app.debug or app.testing or not _serving():
        return
    if app.config.get("SECRET_KEY") in (None, "", default_config.DEV_SECRET_KEY):
        raise RuntimeError(
            "FLASK_SECRET_KEY is not set: set it in the environment or instance/config.py "
            "(python -c 'import secrets; print(secrets.token_hex())' makes one). "
            "Only debug and testing runs may use the built-in development key."
        )



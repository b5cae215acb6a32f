"""citypoints: a city's conduct points scheme with published rules and due process."""

from __future__ import annotations

import string

import click
from flask import Flask

from app import config as default_config
from app.files import private_dir


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
        private_dir(app.instance_path)  # the database and uploads live here
    _trust_proxies(app)

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


PROXY_HEADERS = ("for", "proto", "host", "prefix")


def _trust_proxies(app: Flask) -> None:
    """Take the client's address (and scheme, host, prefix) from the configured number of
    trusted proxies' X-Forwarded-* headers (Werkzeug's ProxyFix); trust none by default."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    counts = {}
    for name in PROXY_HEADERS:
        setting = f"PROXY_FIX_X_{name.upper()}"
        try:
            counts[f"x_{name}"] = int(app.config.get(setting) or 0)
        except (TypeError, ValueError):
            raise RuntimeError(f"FLASK_{setting} must be a whole number of proxies "
                               f"(0 trusts none), not {app.config.get(setting)!r}") from None
        if counts[f"x_{name}"] < 0:
            raise RuntimeError(f"FLASK_{setting} must not be negative")
    if any(counts.values()):
        app.wsgi_app = ProxyFix(app.wsgi_app, **counts)  # type: ignore[method-assign]


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


SECRET_KEY_BYTES = 32  # what a key must carry: 256 bits, as secrets.token_hex(32) makes
HEX = frozenset(string.hexdigits)


def _refuse_default_secret(app: Flask) -> None:
    """Refuse to serve outside debug and testing with the built-in development secret key,
    or with a key that cannot hold 32 random bytes (a word, a short or patterned string)."""
    if app.debug or app.testing or not _serving():
        return
    key = app.config.get("SECRET_KEY")
    make = "python -c 'import secrets; print(secrets.token_hex(32))' makes one"
    if key in (None, "", default_config.DEV_SECRET_KEY):
        raise RuntimeError(
            "FLASK_SECRET_KEY is not set: set it in the environment or instance/config.py "
            f"({make}). Only debug and testing runs may use the built-in development key."
        )
    if not secret_key_is_strong(key):
        raise RuntimeError(
            f"FLASK_SECRET_KEY is too weak: it must hold at least {SECRET_KEY_BYTES} random "
            f"bytes, for example {2 * SECRET_KEY_BYTES} hex characters ({make}); anyone who "
            "guesses it can sign a session cookie for any account."
        )


def secret_key_is_strong(key: str | bytes) -> bool:
    """Return whether `key` can carry 32 random bytes: long enough for its alphabet (hex 4
    bits a character, others 6, raw bytes 8) and with no guessable pattern (zxcvbn)."""
    from zxcvbn import zxcvbn

    if isinstance(key, bytes):
        return len(key) >= SECRET_KEY_BYTES and len(set(key)) >= 16
    per_char = 4 if set(key) <= HEX else 6
    if len(key) * per_char < 8 * SECRET_KEY_BYTES or len(set(key)) < 10:
        return False
    # A long key may still be words or a pattern ("s3cret" thrice, the alphabet, repeats).
    return zxcvbn(key[:100])["guesses_log10"] >= 30

"""Pages for rule authors: the rulebook, its versions and simulation (to be written)."""

from flask import Blueprint

bp = Blueprint("authors", __name__, url_prefix="/authors")

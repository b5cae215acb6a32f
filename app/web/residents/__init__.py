"""A resident's own pages: their standing and their file, never anyone else's; objecting,
asking for reconsideration, consent and where notices go. The subject always comes from the
logged-in account, never from the request."""

from flask import Blueprint

bp = Blueprint("residents", __name__)

# The views register themselves on `bp` (Flask's pattern for a blueprint in a package).
from app.web.residents import due_process, standing, ways_out  # noqa: E402, F401

"""Officials' pages. The `officials` blueprint (/officials): the home page with the
dashboard, finding a subject and opening their file, recording conduct by form or file,
and due process (objections, voids, repairs, letters). Beside it, blueprints of their own:
`lists` (lists and flags; the public lists page too), `intake` (bulk intake with a preview)
and `rankings` (tier distributions, villages, departments; the public honour roll)."""

from flask import Blueprint

bp = Blueprint("officials", __name__, url_prefix="/officials")

# The views register themselves on `bp` (Flask's pattern for a blueprint in a package).
from app.web.officials import desk, due_process, ways_out  # noqa: E402, F401

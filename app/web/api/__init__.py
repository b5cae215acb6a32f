"""The JSON API for other departments' systems (/api/v1): bearer tokens per department,
pydantic shapes for requests and answers (`schemas`), the OpenAPI document built from them
(`openapi`), and every error as {"error": {"code", "message", "details"}} (`errors`, which
the app's error handlers call for every path under /api/)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# The views register themselves on `bp` (Flask's pattern for a blueprint in a package).
from app.web.api import views  # noqa: E402, F401

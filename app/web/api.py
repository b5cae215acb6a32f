"""The JSON API under /api/v1 (bearer tokens per department; to be written)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

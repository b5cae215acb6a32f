"""The API's one answer to an error: `{"error": {"code", "message", "details"}}` as JSON,
with the error's status and the headers that status calls for (Allow on a 405,
WWW-Authenticate on a 401). The app's error handlers call it for every path under /api/."""

from __future__ import annotations

from flask import Response, jsonify
from werkzeug.exceptions import HTTPException

from app.errors import CitypointsError

CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type",
         429: "throttled"}
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="citypoints"'}


def json_error(error: CitypointsError | HTTPException,
               message: str | None = None) -> tuple[Response, int, list]:
    """Return the JSON response for `error` (an HTTP error says `message`, if given)."""
    if isinstance(error, HTTPException):
        status = error.code or 500
        body = {"error": {"code": CODES.get(status, str(status)),
                          "message": message or error.description or error.name,
                          "details": None}}
        headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
        return jsonify(body), status, headers
    headers = list(CHALLENGE.items()) if error.status == 401 else []
    return jsonify(error.as_dict()), error.status, headers

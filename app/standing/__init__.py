"""PURE standing core: a subject's points, tier, lists, flags and measures on a date.

No Flask and no database here: plain facts in, a `Standing` and its explanation out.
"""

from app.standing.evaluate import evaluate
from app.standing.points import fix_points
from app.standing.serialize import standing_to_json
from app.standing.timeline import UpcomingChange, next_changes, points_timeline

__all__ = [
    "UpcomingChange",
    "evaluate",
    "fix_points",
    "next_changes",
    "points_timeline",
    "standing_to_json",
]

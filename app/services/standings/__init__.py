"""Standings: one subject's standing from the pure evaluator over their stored facts
(`facts`), and the nightly recompute of the whole population in set-based SQL
(`recompute`). The two give the same answers; a property test holds them to it."""

"""Standings: one subject's standing from the pure evaluator over their stored facts
(`facts`), the nightly recompute of the whole population in set-based SQL (`recompute`),
and the SQL predicates of what counts on a day (`predicates`), which every query of the
facts shares. The two give the same answers; a property test holds them to it."""

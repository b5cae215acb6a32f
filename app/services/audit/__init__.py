"""The audit trail: append-only events chained by hashes, the published daily digests,
verifying the chain and searching it (`chain`); the CSV downloads of officials' tables
(`downloads`)."""

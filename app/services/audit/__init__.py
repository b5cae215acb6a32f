"""The audit trail: append-only events chained by hashes, the published daily digests,
verifying the chain and searching it (`chain`); the seals of the facts, a Merkle log bound
into the chain (`seals`, RFC 6962 hashing in `merkle`), checking the rows against them
(`facts`) and the proofs anyone can check (`proofs`); the CSV downloads of officials'
tables (`downloads`)."""

"""One scheduler at a time: the leader lease that only one scheduler process holds (renewed
by its heartbeat, taken over by a standby once it runs out), and each job's due time,
claimed once in the database so that no job runs twice for it (`lease`)."""

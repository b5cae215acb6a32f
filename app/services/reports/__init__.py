"""Reports read from what the nightly run stores: the officials' dashboard
(`dashboard`) and the rankings and honour roll (`rankings`)."""

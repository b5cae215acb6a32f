"""Taking facts in: department files (CSV or JSON lines) read into numbered rows and dates
parsed once (`rows`); one typed draft per fact (record, list entry, subject) that the
file reader, the forms and the API all build (`drafts`); the one skeleton that checks a
batch of drafts in file order and writes all or nothing (`batch`); the external references
that make imports idempotent (`refs`); and uploads kept between a preview and its
confirmation (`uploads`)."""

"""Reading department files: CSV or JSON lines into numbered rows and dates parsed once
(`rows`), the external references that make imports idempotent (`refs`), and uploads kept
between a preview and its confirmation (`uploads`)."""

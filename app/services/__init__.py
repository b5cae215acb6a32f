"""Use cases, one package per feature. Each takes a Session and plain values, never imports
Flask, and is the one owner of its transaction (see `transaction`).

- `records`: recording conduct, imports, voids and repairs
- `lists`: list entries and removals; what pages read of lists and flags
- `subjects`: the population register and consent
- `due_process`: notices and their delivery, objections
- `standings`: one subject's standing; the nightly recompute
- `subject_file`: a subject's file as the pages show it
- `rulebooks`: the rulebook in force, its history, candidates and simulation
- `accounts`: accounts and API tokens
- `audit`: the audit trail and its digests
- `reports`: the dashboard and rankings
- `intake`: reading department files and uploads
- `locks`, `backup`, `demo`: write locks on both databases; copies of SQLite; the demo city
"""

"""Accounts and API tokens: who may log in, with which role, for which department or
subject (`users`); the departments' bearer tokens, stored as hashes, revocable (`tokens`)."""

# Copy to instance/config.py and adjust. Environment variables with the FLASK_ prefix
# (FLASK_DATABASE_URL, FLASK_RULES_DIR, FLASK_SECRET_KEY, ...) override what is set here.

# Required outside debug and testing: at least 32 random bytes (the app refuses a shorter
# or patterned key, and this placeholder); make one with:
#   python -c 'import secrets; print(secrets.token_hex(32))'
SECRET_KEY = "change-me"

# SQLite (the default is instance/citypoints.sqlite3) or PostgreSQL:
# DATABASE_URL = "postgresql+psycopg://citypoints@127.0.0.1:5432/citypoints"

# The rulebook directory (default: rules/ in the repository).
# RULES_DIR = "/srv/citypoints/rules"

# When the scheduler process runs the nightly recompute (local time of TIMEZONE).
# RECOMPUTE_AT = "02:00"
# TIMEZONE = "Asia/Shanghai"

# Behind one TLS-terminating proxy: trust its X-Forwarded-For and -Proto (0 trusts none).
# PROXY_FIX_X_FOR = 1
# PROXY_FIX_X_PROTO = 1

# The scheduler's leader lease (seconds): a standby scheduler takes over this long after
# the leader's last renewal.
# SCHEDULER_LEASE_SECONDS = 30

# Outside development, cookies only over HTTPS:
# SESSION_COOKIE_SECURE = True

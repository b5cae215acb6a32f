# Copy to instance/config.py and adjust. Environment variables with the FLASK_ prefix
# (FLASK_DATABASE_URL, FLASK_RULES_DIR, FLASK_SECRET_KEY, ...) override what is set here.

# Required outside debug and testing; make one with:
#   python -c 'import secrets; print(secrets.token_hex())'
SECRET_KEY = "change-me"

# SQLite (the default is instance/citypoints.sqlite3) or PostgreSQL:
# DATABASE_URL = "postgresql+psycopg://citypoints@127.0.0.1:5432/citypoints"

# The rulebook directory (default: rules/ in the repository).
# RULES_DIR = "/srv/citypoints/rules"

# When the scheduler process runs the nightly recompute (local time of TIMEZONE).
# RECOMPUTE_AT = "02:00"
# TIMEZONE = "Asia/Shanghai"

# Outside development, cookies only over HTTPS:
# SESSION_COOKIE_SECURE = True

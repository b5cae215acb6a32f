"""gunicorn settings for the web app: `gunicorn -c app/gunicorn_conf.py 'app:create_app()'`.

Sync workers, one per core. Measured with tests/benchmarks/bench_http.py on a 1M-subject,
10M-record SQLite city on 2 cores (see the README's results): a page, a check or a record
is CPU-bound Python, so threads (gthread) only contend for the GIL, and more processes than
cores only contend for the CPU and, on SQLite, for the single write lock, whose busy
handler sleeps in steps of up to 100 ms: both made p95 several times worse at 8
connections. Each setting can be overridden on the command line or by GUNICORN_WORKERS
and GUNICORN_BIND.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", os.cpu_count() or 2))
worker_class = "sync"
timeout = 120  # a large CSV upload is checked and stored within its request

"""gunicorn's settings for the API (`gunicorn -c hosting/gunicorn.conf.py hosting.wsgi:application`), each
from the environment the Deployment sets (k8s/api.yaml).

Threaded workers: a long poll (GET /v1/spaces/{space}/changes/poll) holds its thread, not its process.
Each worker imports the app once (as a warm Lambda); `preload_app` stays off so a worker's clients and
pools are its own. Logs go to stdout/stderr; the workers' heartbeat files live in GUNICORN_TMP_DIR, a
memory-backed emptyDir (the pod's root file system is read-only).
"""

import os

bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# A request may run for the function's timeout (30 s, as API Gateway's integration limit) plus a margin.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
worker_tmp_dir = os.environ.get("GUNICORN_TMP_DIR") or None  # the pod mounts a memory-backed emptyDir
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The caller's address comes from the event (CARTABLE_FORWARDED_HOPS); the scheme from the ingress.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")

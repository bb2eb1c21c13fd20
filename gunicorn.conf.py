"""Gunicorn settings for production: `gunicorn -c gunicorn.conf.py wsgi:app`.

Every value can be changed from the environment, so the systemd unit, a Procfile and a
container all run the same file. Gunicorn also reads this file by itself when it is started
from the project folder without `-c`; options given on the command line win over it.

    BIND                    address to listen on (default 127.0.0.1:$PORT)
    PORT                    port for the default address (default 8000)
    WEB_CONCURRENCY         worker processes (default 2 x CPUs + 1, at most 8)
    GUNICORN_TIMEOUT        seconds a worker may spend on one request (default 30)
    GUNICORN_GRACEFUL_TIMEOUT  seconds to finish requests on stop or reload (default 30)
    GUNICORN_MAX_REQUESTS   requests before a worker is replaced (default 100000; 0: never)
    GUNICORN_MAX_REQUESTS_JITTER  random extra requests, so workers are not all replaced
                            at once (default a tenth of GUNICORN_MAX_REQUESTS)
    GUNICORN_ACCESS_LOG     access log file, `-` for stderr (default: none, see below)
    GUNICORN_LOG_LEVEL      gunicorn's own log level (default info)
    GUNICORN_CONTROL_SOCKET path of gunicorn's control socket (default: off)
    GUNICORN_WORKER_TMP_DIR directory of the workers' heartbeat files (default: TMPDIR)
    TRUSTED_PROXIES         the app's setting; 0 means no proxy, so gunicorn trusts none
    FORWARDED_ALLOW_IPS     addresses of the proxies (default 127.0.0.1,::1)
    PROMETHEUS_MULTIPROC_DIR  where the workers' metrics live (see `on_starting`)
"""

from __future__ import annotations

import os
from pathlib import Path

# Nothing here imports the app: the workers load it after the fork, so each one opens
# its own database connections.
wsgi_app = "wsgi:app"


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _cpus() -> int:
    # The CPUs this process may run on (a container or a CPUAffinity= limit), not the host's.
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


bind = [os.environ.get("BIND") or f"127.0.0.1:{_int('PORT', 8000)}"]

# Sync workers: one request at a time per process, the model the app is written and
# measured for (one database session per request, no shared state between requests).
# Each worker holds its own database connection, so the cap keeps
# workers x app servers well under PostgreSQL's max_connections.
worker_class = "sync"
workers = _int("WEB_CONCURRENCY", min(2 * _cpus() + 1, 8))

timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)

# Replacing workers now and then bounds any slow growth of a long-lived process; the
# jitter spreads the replacements out. A new worker loads the app, about 1.8 s of CPU:
# every 10,000 requests that was 0.18 ms a request, more than half of a public page
# served from memory; every 100,000 it is a tenth of that. Each replaced worker also
# leaves its counter and histogram files in PROMETHEUS_MULTIPROC_DIR (counters must never
# go down), which /metrics reads on every scrape.
max_requests = _int("GUNICORN_MAX_REQUESTS", 100_000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", max_requests // 10)

# The app writes one structured line per request itself (with its request id and
# account), so gunicorn's access log would only repeat it.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")

# Gunicorn believes X-Forwarded-Proto (for wsgi.url_scheme) only from these addresses.
# Without a proxy (TRUSTED_PROXIES=0) it believes nobody, as the app does.
forwarded_allow_ips = (os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
                       if _int("TRUSTED_PROXIES", 0) > 0 else "")

# Each worker's heartbeat file is touched constantly: better in memory (tmpfs) than on a
# disk. The systemd unit points it at its runtime directory under /run.
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or None

# Gunicorn's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl), where
# a second gunicorn of the same user replaces the first one's; the systemd unit gives it a
# path of its own.
_control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not _control_socket
if _control_socket:
    control_socket = _control_socket

# prometheus-client's multi-process mode: each process writes its metrics to files in this
# directory (<kind>_<pid>.db) and /metrics adds them all up. The mail worker and the digest
# command write there too (deploy/systemd/ gives them the same directory), so /metrics
# also reports what they count.
PROMETHEUS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def on_starting(server) -> None:
    """Create the metrics directory and clear out what ended processes left, as
    prometheus-client asks between runs: their gauges are stale, their files pile up, and a
    new process given an old pid would carry on from that file's values. The files of
    running processes stay, so the mail worker goes on counting while gunicorn restarts."""
    if not PROMETHEUS_DIR:
        return
    directory = Path(PROMETHEUS_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    # Only prometheus-client's own files, in case the setting points somewhere shared.
    for path in directory.glob("*_*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and not _running(int(pid)):
            path.unlink(missing_ok=True)


def child_exit(server, worker) -> None:
    """Drop the live gauges of a worker that has exited (its counters stay, by design)."""
    if not PROMETHEUS_DIR:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, PROMETHEUS_DIR)

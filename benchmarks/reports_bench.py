"""Report speed on a million donations (PostgreSQL): summary.json for a month, a year and
three years against the plain SQL aggregate over the same rows, and the full CSV export's
time and memory.

    .venv/bin/python benchmarks/reports_bench.py

Uses the database that `http_bench.py campaign` keeps (membership_bench_1000000),
seeding it first if needed (BENCH_DONATIONS changes the size)."""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.http_bench import app_env, migrate, postgres_database, seed, settle  # noqa: E402

SIZE = int(os.environ.get("BENCH_DONATIONS", "1000000"))
RUNS = 5


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def timed(function, runs: int = RUNS) -> float:
    """Median milliseconds of `runs` calls, after one warm-up call."""
    function()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    env = app_env(postgres_database(f"membership_bench_{SIZE}"))
    migrate(env)
    print(f"{SIZE:,} donations seeded in {seed(env, SIZE):.0f} s", flush=True)
    settle(env["DATABASE_URL"])
    os.environ.update(env)

    from sqlalchemy import func, select

    from membership import create_app
    from membership.accounts.services import ensure_staff
    from membership.admin.reports import Window
    from membership.donations.models import Donation
    from membership.extensions import db
    from membership.types import utcnow

    app = create_app({"RATELIMIT_ENABLED": False, "SERVER_NAME": "bench.local"})
    with app.app_context():
        staff, _ = ensure_staff("bench-staff@example.org", "bench staff passphrase 2026")
        db.session.commit()
        login_id = f"{staff.id}:{staff.session_token}"
        today = utcnow().date()
        windows = {"a month": Window(today - timedelta(days=29), today),
                   "a year": Window(today - timedelta(days=364), today),
                   "three years": Window(today - timedelta(days=3 * 365 - 1), today)}
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = login_id
            session["_fresh"] = True
        print(f"{'window':<12} {'rows':>9} {'summary.json':>13} {'plain SQL aggregate':>20}")
        for name, window in windows.items():
            url = (f"/admin/reports/summary.json?start={window.start}&end={window.end}")

            def endpoint(url=url):
                response = client.get(url)
                assert response.status_code == 200, response.get_data(as_text=True)

            plain = select(
                func.sum(Donation.amount_cents), func.sum(Donation.net_cents), func.count(),
                func.count(Donation.donor_id.distinct()),
            ).where(Donation.created_at >= window.begins, Donation.created_at < window.ends,
                    Donation.currency == "usd")
            rows = db.session.scalar(select(func.count()).where(
                Donation.created_at >= window.begins, Donation.created_at < window.ends))
            endpoint_ms = timed(endpoint)
            plain_ms = timed(lambda plain=plain: db.session.execute(plain).one())
            print(f"{name:<12} {rows:>9,} {endpoint_ms:>10.1f} ms {plain_ms:>17.1f} ms",
                  flush=True)

        everything = windows["three years"]
        url = f"/admin/reports/donations.csv?start={everything.start}&end={everything.end}"
        before = peak = rss_mb()
        started = time.perf_counter()
        size = lines = 0
        response = client.get(url)
        for chunk in response.response:
            size += len(chunk)
            lines += chunk.count(b"\n") if isinstance(chunk, bytes) else chunk.count("\n")
            peak = max(peak, rss_mb())
        seconds = time.perf_counter() - started
        print(f"donations.csv: {lines - 1:,} rows, {size / 1e6:.0f} MB in {seconds:.1f} s; "
              f"memory {before:.0f} MB before, {peak:.0f} MB at most while streaming",
              flush=True)


if __name__ == "__main__":
    main()

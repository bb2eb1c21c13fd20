"""Report speed on a million donations (PostgreSQL): summary.json for a month, a year and
three years against the plain SQL aggregate over the same rows; retention.json against
the plain SQL that counts the same groups from the donations (and gives the same
numbers); every dashboard page; and the CSV exports' time and memory.

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
    from membership.accounts.sessions import start_session
    from membership.donations.models import Donation
    from membership.extensions import db
    from membership.reports.windows import Window
    from membership.types import utcnow

    app = create_app({"RATELIMIT_ENABLED": False, "SERVER_NAME": "bench.local"})
    with app.app_context():
        staff, _ = ensure_staff("bench-staff@example.org", "bench staff passphrase 2026")
        start_session(staff)  # a sign-in kept on the server, as the log-in form makes
        db.session.commit()
        login_id = f"{staff.id}:{staff.login_token}"
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

        year = today.year
        print(f"\n{'retention.json':<28} {'endpoint':>9} {'plain SQL':>10}")
        for asked in (year, year - 1):
            def endpoint(asked=asked):
                response = client.get(f"/admin/reports/retention.json?year={asked}")
                assert response.status_code == 200
                return response.get_json()

            figures = endpoint()
            plain = plain_retention(db, asked)
            assert all(figures[key] == plain[key] for key in plain), (figures, plain)
            print(f"{'year=' + str(asked):<28} {timed(endpoint):>6.1f} ms "
                  f"{timed(lambda asked=asked: plain_retention(db, asked)):>7.1f} ms",
                  flush=True)

        print(f"\n{'page':<40} {'median':>9}")
        pages = ["/admin/", "/admin/?preset=year-to-date", "/admin/?preset=last-year",
                 "/admin/retention", f"/admin/analytics?year={year - 1}",
                 f"/admin/reports/analytics.json?year={year - 1}", "/admin/donations",
                 "/admin/donors", "/admin/donors?q=donor0001", "/admin/campaigns",
                 "/admin/events", "/admin/outbox", "/admin/audit", "/admin/topics"]
        for url in pages:
            def page(url=url):
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)
            print(f"{url:<40} {timed(page):>6.1f} ms", flush=True)

        # What `flask reports refresh` counts every ten minutes (the page shows it).
        from membership.donations.money import exponent
        from membership.reports import giving, recurring
        from membership.reports.snapshots import count_and_keep

        figures = {"churn": lambda: recurring.churn(year - 1),
                   "recovered renewals": lambda: recurring.recovery(year - 1),
                   "cohorts": lambda: recurring.cohorts(year - 1, today),
                   "gift ranges": lambda: giving.gift_ranges(year - 1, exponent),
                   "second gifts": lambda: giving.second_gifts(year - 1),
                   "readers who give": lambda: giving.readers_who_give(year - 1),
                   "all, counted and kept": lambda: count_and_keep(year - 1, today, exponent)}
        print(f"\n{'analytics of ' + str(year - 1) + ', counted afresh':<40} {'median':>9}")
        for name, count in figures.items():
            print(f"{name:<40} {timed(count):>6.1f} ms", flush=True)
            db.session.rollback()

        everything = windows["three years"]
        for url in (f"/admin/reports/donations.csv?start={everything.start}&end={everything.end}",
                    f"/admin/reports/lybunt.csv?year={year}",
                    f"/admin/reports/sybunt.csv?year={year}"):
            stream(client, url)


# The same groups as retention.json, counted straight from the donations in one pass.
PLAIN_RETENTION = """
WITH gave AS (
  SELECT donor_id,
         bool_or(created_at >= :starts AND created_at < :ends) AS this_year,
         bool_or(created_at >= :previous AND created_at < :starts) AS last_year,
         bool_or(created_at < :previous) AS before
  FROM donations
  WHERE CASE WHEN dispute_status IN ('lost', 'appeal_needs_response', 'appeal_under_review')
             THEN 0 ELSE amount_cents - refunded_cents END > 0
    AND created_at < :ends
  GROUP BY donor_id)
SELECT count(*) FILTER (WHERE this_year) AS donors,
       count(*) FILTER (WHERE last_year) AS donors_previous,
       count(*) FILTER (WHERE this_year AND last_year) AS retained,
       count(*) FILTER (WHERE this_year AND NOT last_year AND NOT before) AS new,
       count(*) FILTER (WHERE this_year AND NOT last_year AND before) AS recaptured,
       count(*) FILTER (WHERE last_year AND NOT this_year) AS lybunt,
       count(*) FILTER (WHERE before AND NOT last_year AND NOT this_year) AS sybunt
FROM gave"""


def plain_retention(db, year: int) -> dict:
    from datetime import UTC, datetime

    from sqlalchemy import text

    row = db.session.execute(text(PLAIN_RETENTION), {
        "previous": datetime(year - 1, 1, 1, tzinfo=UTC),
        "starts": datetime(year, 1, 1, tzinfo=UTC),
        "ends": datetime(year + 1, 1, 1, tzinfo=UTC)}).one()
    return dict(row._mapping)


def stream(client, url: str) -> None:
    """Read a CSV export to its end: rows, size, seconds and the process's peak memory."""
    before = peak = rss_mb()
    started = time.perf_counter()
    size = lines = 0
    response = client.get(url)
    for chunk in response.response:
        size += len(chunk)
        lines += chunk.count(b"\n") if isinstance(chunk, bytes) else chunk.count("\n")
        peak = max(peak, rss_mb())
    seconds = time.perf_counter() - started
    name = url.split("?")[0].rsplit("/", 1)[1]
    print(f"{name}: {lines - 1:,} rows, {size / 1e6:.1f} MB in {seconds:.1f} s; memory "
          f"{before:.0f} MB before, {peak:.0f} MB at most while streaming", flush=True)


if __name__ == "__main__":
    main()

"""HTTP throughput of our endpoints, side by side with a bare Flask endpoint, both served
by gunicorn with 2 workers and loaded by wrk on this machine.

    .venv/bin/python benchmarks/http_bench.py donate       # GET /donate, POST /donate (sandbox)
    .venv/bin/python benchmarks/http_bench.py webhook      # signed events/s, PostgreSQL and SQLite
    .venv/bin/python benchmarks/http_bench.py renewals     # renewal events/s, Stripe in 50 ms
    .venv/bin/python benchmarks/http_bench.py campaign     # progress.json and the campaign
                                                           # page at 10k and 1M donations (PG)
    .venv/bin/python benchmarks/http_bench.py languages    # /, /donate and the campaign
                                                           # page in English and in Arabic
    .venv/bin/python benchmarks/http_bench.py public       # the public pages: visitors and
                                                           # signed-in readers, en and ar

Prints one line per measurement and the ratio to the bare endpoint. Needs `wrk`
(scripts/install-wrk.sh) and, for PostgreSQL, the local server (see README)."""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import stripe

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "membership_bench"
SECRET = "whsec_benchmark"
DURATION = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
STRIPE_LATENCY = float(os.environ.get("BENCH_STRIPE_LATENCY", "0.05"))
WORKER_ARGS = os.environ.get(
    "BENCH_GUNICORN", "--workers 2").split()

# wrk sends each thread through its own slice of pre-signed requests, so no two requests
# carry the same event.
REQUESTS_LUA = """
local requests = {}
local counter = 0
function setup(thread)
  thread:set("offset", counter)
  counter = counter + 1
end
function init(args)
  local file = io.open(args[1], "r")
  for line in file:lines() do
    local sig, body = line:match("^([^\\t]*)\\t(.*)$")
    requests[#requests + 1] = {sig = sig, body = body}
  end
  file:close()
  index = offset * math.floor(#requests / tonumber(args[2]))
end
function request()
  index = index + 1
  local item = requests[(index - 1) % #requests + 1]
  local headers = {["Content-Type"] = "application/json"}
  if item.sig ~= "" then headers["Stripe-Signature"] = item.sig end
  if cookie then headers["Cookie"] = cookie end
  if content_type then headers["Content-Type"] = content_type end
  return wrk.format("POST", path, headers, item.body)
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def gunicorn(app: str, env: dict[str, str], health_path: str = "/"):
    """Serve `app` on a free port; yields its URL (a key of SERVERS)."""
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), *WORKER_ARGS, "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", app],
        cwd=ROOT, env={**os.environ, **env},
    )
    base = f"http://127.0.0.1:{port}"
    SERVERS[base] = process.pid
    try:
        wait_until_up(base + health_path)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


SERVERS: dict[str, int] = {}  # each served URL's gunicorn master process


def workers_cpu_seconds(base: str) -> float:
    """The CPU time the server's workers have used so far (user and system): a machine
    whose speed drifts (other tenants) changes it much less than it changes requests/s."""
    master = SERVERS[base]
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[1]) == master:  # the parent's pid
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        elif entry.name == str(master):  # workers it replaced (gunicorn's max_requests)
            ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def wrk(url: str, script: str | None = None, script_args: list[str] | None = None,
        duration: int = DURATION, headers: tuple[str, ...] = ()) -> tuple[float, int, int]:
    """Requests/s, total requests and non-2xx/3xx answers."""
    command = ["wrk", "-t", "2", "-c", str(CONNECTIONS), "-d", f"{duration}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    if script:
        command += ["-s", script]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    total = int(re.search(r"(\d+) requests in", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return rate, total, int(errors.group(1)) if errors else 0


def report(name: str, rate: float, total: int, errors: int, bare: float | None = None) -> None:
    ratio = f"  {rate / bare:6.0%} of bare" if bare else ""
    print(f"{name:<46} {rate:9.1f} req/s  ({total} requests, {errors} errors){ratio}",
          flush=True)


def app_env(database_url: str, **extra: str) -> dict[str, str]:
    return {"MEMBERSHIP_ENV": "development", "DATABASE_URL": database_url,
            "SECRET_KEY": "benchmark", "RATELIMIT_ENABLED": "false",
            "PAYMENTS_GATEWAY": "sandbox", "SANDBOX_DELIVERY_DELAY": "0",
            "STRIPE_WEBHOOK_SECRET": SECRET, "FLASK_APP": "wsgi", **extra}


def production_env(database_url: str) -> dict[str, str]:
    """Settings as deployed (no debug mode, no template reloading) for pages that never
    reach Stripe."""
    return {"MEMBERSHIP_ENV": "production", "DATABASE_URL": database_url,
            "SECRET_KEY": "benchmark", "RATELIMIT_ENABLED": "false",
            "PAYMENTS_GATEWAY": "stripe", "STRIPE_SECRET_KEY": "sk_test_benchmark",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_benchmark", "STRIPE_WEBHOOK_SECRET": SECRET,
            "SITE_URL": "https://members.example.test", "FLASK_APP": "wsgi"}


def migrate(env: dict[str, str]) -> None:
    subprocess.run([str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env={**os.environ, **env},
                   check=True, capture_output=True)


def fresh_postgres() -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB}")
        conn.execute(f"CREATE DATABASE {PG_BENCH_DB}")
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_BENCH_DB}"


def write_script(directory: Path, path: str, cookie: str = "", content_type: str = "") -> str:
    script = directory / "requests.lua"
    prelude = f'path = "{path}"\n'
    if cookie:
        prelude += f'cookie = "{cookie}"\n'
    if content_type:
        prelude += f'content_type = "{content_type}"\n'
    script.write_text(prelude + REQUESTS_LUA)
    return str(script)


# Scenarios ------------------------------------------------------------------------------------

def bench_donate(directory: Path) -> None:
    database = f"sqlite:///{directory}/donate.sqlite3"
    env = app_env(database)
    migrate(env)
    with gunicorn("benchmarks.bare_app:app", {}) as bare_url, \
            gunicorn("wsgi:app", env, "/healthz") as app_url:
        bare_get = wrk(bare_url + "/")
        report("bare Flask GET /", *bare_get)
        report("GET /donate", *wrk(app_url + "/donate"), bare=bare_get[0])

        # One session and CSRF token, reused by every POST of the run.
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        html = opener.open(app_url + "/donate").read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
        cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
        bodies = directory / "donate.txt"
        with bodies.open("w") as file:
            for n in range(5000):
                body = (f"csrf_token={token}&amount={10 + n % 90}&frequency=once&currency=usd"
                        f"&email=bench{n % 500}%40example.org")
                file.write(f"\t{body}\n")
        form = "application/x-www-form-urlencoded"
        bare_post = wrk(bare_url + "/", write_script(directory, "/", content_type=form),
                        [str(bodies), "2"])
        report("bare Flask POST /", *bare_post)
        script = write_script(directory, "/donate", cookie=cookie, content_type=form)
        report("POST /donate (creates the checkout, sandbox)",
               *wrk(app_url + "/donate", script, [str(bodies), "2"]), bare=bare_post[0])


def signed_events(path: Path, count: int) -> None:
    """`count` distinct one-time gift events, signed now (valid for 300 s)."""
    now = int(time.time())
    with path.open("w") as file:
        for n in range(count):
            session = {
                "id": f"cs_bench_{n}", "object": "checkout.session", "mode": "payment",
                "payment_status": "paid", "status": "complete", "amount_total": 1000 + n % 5000,
                "currency": "usd", "customer": f"cus_bench_{n % 2000}",
                "customer_details": {"email": f"bench{n % 2000}@example.org", "name": None},
                "customer_email": None, "payment_intent": f"pi_bench_{n}",
                "metadata": {"purpose": "donation", "frequency": "once"},
            }
            event = {"id": f"evt_bench_{n}", "object": "event", "api_version": stripe.api_version,
                     "created": now, "livemode": False, "type": "checkout.session.completed",
                     "data": {"object": session}, "pending_webhooks": 1}
            body = json.dumps(event)
            header = stripe.WebhookSignature.generate_signature_header(body, SECRET, now)
            file.write(f"{header}\t{body}\n")


def bench_webhook(directory: Path) -> None:
    events = directory / "events.txt"
    signed_events(events, 60_000)
    databases = [("PostgreSQL", fresh_postgres()),
                 ("SQLite", f"sqlite:///{directory}/webhook.sqlite3")]
    with gunicorn("benchmarks.bare_app:app", {}) as bare_url:
        bare = wrk(bare_url + "/", write_script(directory, "/"), [str(events), "2"])
        report("bare Flask POST / (same bodies)", *bare)
        for name, database in databases:
            env = app_env(database)
            migrate(env)
            with gunicorn("wsgi:app", env, "/healthz") as app_url:
                script = write_script(directory, "/stripe/webhook")
                rate, total, errors = wrk(app_url + "/stripe/webhook", script,
                                          [str(events), "2"])
                report(f"POST /stripe/webhook on {name}", rate, total, errors, bare=bare[0])


def signed_renewals(path: Path, count: int) -> dict[str, dict]:
    """`count` renewals of distinct monthly gifts, in the two events Stripe sends for each:
    `invoice.paid` (its PaymentIntent asked of the Invoice Payments API) and
    `customer.subscription.updated` (the subscription read as Stripe holds it now). Returns
    the subscriptions, for the Stripe double to answer with."""
    now = int(time.time())
    metadata = {"purpose": "donation", "frequency": "monthly"}
    subscriptions = {}
    with path.open("w") as file:
        for n in range(count):
            subscription_id, customer = f"sub_bench_{n}", f"cus_bench_{n}"
            invoice = {
                "id": f"in_bench_{n}", "object": "invoice", "customer": customer,
                "customer_email": f"renew{n}@example.org", "currency": "usd",
                "amount_due": 1800, "amount_paid": 1800, "billing_reason": "subscription_cycle",
                "status": "paid", "status_transitions": {"paid_at": now},
                "parent": {"type": "subscription_details", "subscription_details": {
                    "subscription": subscription_id, "metadata": metadata}}}
            subscription = {
                "id": subscription_id, "object": "subscription", "customer": customer,
                "status": "active", "currency": "usd", "metadata": metadata,
                "items": {"object": "list", "data": [{
                    "id": f"si_bench_{n}", "quantity": 1, "current_period_end": now + 2592000,
                    "price": {"unit_amount": 1800, "recurring": {"interval": "month"}}}]}}
            subscriptions[subscription_id] = subscription
            for kind, obj in (("invoice.paid", invoice),
                              ("customer.subscription.updated", subscription)):
                event = {"id": f"evt_bench_{kind}_{n}", "object": "event",
                         "api_version": stripe.api_version, "created": now, "livemode": False,
                         "type": kind, "data": {"object": obj}}
                body = json.dumps(event)
                header = stripe.WebhookSignature.generate_signature_header(body, SECRET, now)
                file.write(f"{header}\t{body}\n")
    return subscriptions


def bench_renewals(directory: Path) -> None:
    """Renewal events against a Stripe double that takes 50 ms an answer, PostgreSQL."""
    sys.path.insert(0, str(ROOT))
    from tests.fake_stripe import FakeStripeServer

    events = directory / "renewals.txt"
    subscriptions = signed_renewals(events, 20_000)
    database = fresh_postgres()
    with FakeStripeServer() as fake:
        fake.latency = STRIPE_LATENCY
        fake.objects.update(subscriptions)
        env = {**production_env(database), "STRIPE_API_BASE": fake.url}
        migrate(env)
        with gunicorn("wsgi:app", env, "/healthz") as app_url:
            rate, total, errors = wrk(app_url + "/stripe/webhook",
                                      write_script(directory, "/stripe/webhook"),
                                      [str(events), "2"])
            report(f"renewal events, Stripe answering in {STRIPE_LATENCY * 1000:.0f} ms", rate,
                   total, errors)
        print(f"  Stripe was asked {len(fake.requests)} times", flush=True)


def seed(env: dict[str, str], donations: int) -> float:
    """Top the demo data up to `donations` donations; returns the seconds it took."""
    started = time.perf_counter()
    subprocess.run([str(BIN / "flask"), "seed-demo", "--donations", str(donations)], cwd=ROOT,
                   env={**os.environ, **env}, check=True, capture_output=True)
    return time.perf_counter() - started


def postgres_database(name: str) -> str:
    """A benchmark database kept between runs (seed-demo tops it up, it never duplicates);
    BENCH_FRESH=1 starts it anew."""
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        if os.environ.get("BENCH_FRESH"):
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f"CREATE DATABASE {name}")
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def settle(database_url: str) -> None:
    """After a bulk load: statistics up to date and autovacuum done, so that the load
    does not bias what follows."""
    import psycopg

    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")


def bench_campaign(directory: Path) -> None:
    """progress.json and the campaign page at 10,000 and at 1,000,000 donations on
    PostgreSQL, measured in alternating rounds next to a bare endpoint: their cost must
    not grow with the number of gifts."""
    sizes = [int(size) for size in os.environ.get("BENCH_DONATIONS",
                                                 "10000,1000000").split(",")]
    envs = {}
    for size in sizes:
        env = production_env(postgres_database(f"{PG_BENCH_DB}_{size}"))
        migrate(env)
        print(f"{size:,} donations seeded in {seed(env, size):.0f} s", flush=True)
        settle(env["DATABASE_URL"])
        envs[size] = env
    rounds = int(os.environ.get("BENCH_ROUNDS", "4"))
    results: dict[int, dict[str, list[float]]] = {
        size: {"bare": [], "progress": [], "page": []} for size in sizes}
    with gunicorn("benchmarks.bare_app:app", {}) as bare_url:
        for round_number in range(rounds):
            # Alternating order, so that a drift of the machine favours neither size.
            for size in sizes if round_number % 2 == 0 else sizes[::-1]:
                with gunicorn("wsgi:app", envs[size], "/healthz") as app_url:
                    measured = results[size]
                    measured["bare"].append(wrk(bare_url + "/")[0])
                    measured["progress"].append(
                        wrk(app_url + "/campaigns/20th-anniversary/progress.json")[0])
                    measured["page"].append(wrk(app_url + "/campaigns/20th-anniversary")[0])
    for size in sizes:
        bare = sum(results[size]["bare"]) / rounds
        print(f"{size:>9,} donations: bare Flask GET / {bare:7.1f} req/s", flush=True)
        for name, label in (("progress", "progress.json"), ("page", "/campaigns/<slug>")):
            rate = sum(results[size][name]) / rounds
            print(f"{size:>9,} donations: GET {label:<18} {rate:7.1f} req/s "
                  f"{rate / bare:6.0%} of bare", flush=True)
    if len(sizes) == 2:
        for name in ("progress", "page"):
            # Each round's rate relative to the bare endpoint measured just before it.
            small, large = (statistics.mean(rate / bare for rate, bare in zip(
                results[size][name], results[size]["bare"], strict=True)) for size in sizes)
            print(f"{name}: {large / small - 1:+.1%} throughput (relative to bare) at "
                  f"{sizes[1]:,} vs {sizes[0]:,} donations", flush=True)


def bench_languages(directory: Path) -> None:
    """The public pages in English and in Arabic (Accept-Language), production settings on
    SQLite with the demo's campaign and 2,000 donations, in alternating rounds next to a
    bare endpoint: rendering in another language must cost nothing that matters."""
    env = production_env(f"sqlite:///{directory}/languages.sqlite3")
    migrate(env)
    seed(env, 2000)
    paths = ("/", "/donate", "/campaigns/20th-anniversary")
    rounds = int(os.environ.get("BENCH_ROUNDS", "2"))
    results: dict[tuple[str, str], list[float]] = {}
    bare_rates = []
    with gunicorn("benchmarks.bare_app:app", {}) as bare_url, \
            gunicorn("wsgi:app", env, "/healthz") as app_url:
        for round_number in range(rounds):
            bare_rates.append(wrk(bare_url + "/")[0])
            languages = ("en", "ar") if round_number % 2 == 0 else ("ar", "en")
            for path in paths:
                for language in languages:
                    rate = wrk(app_url + path, headers=(f"Accept-Language: {language}",))[0]
                    results.setdefault((path, language), []).append(rate)
    bare = statistics.mean(bare_rates)
    print(f"bare Flask GET /{'':<30} {bare:9.1f} req/s", flush=True)
    for path in paths:
        english, arabic = (statistics.mean(results[(path, lang)]) for lang in ("en", "ar"))
        print(f"GET {path:<30} en {english:7.1f} req/s ({english / bare:4.0%} of bare)  "
              f"ar {arabic:7.1f} req/s ({arabic / bare:4.0%} of bare)  "
              f"ar/en {arabic / english:5.0%}", flush=True)


# Each request a signed-in reader's, taken in turn from a list of session cookies: a
# newsletter blast brings many readers, each for a page or two. One browser's name for the
# sign-in and the pages after it: Flask-Login's session protection marks a sign-in whose
# browser changed as not fresh, which re-signs the cookie on every request, as no real
# browser would.
USER_AGENT = "membership-bench/1"
READERS_LUA = """
local cookies = {}
function init(args)
  for line in io.lines(args[1]) do cookies[#cookies + 1] = line end
  index = 0
end
function request()
  index = index + 1
  local headers = {["Accept-Language"] = language, ["User-Agent"] = "USER_AGENT"}
  if #cookies > 0 then headers["Cookie"] = cookies[(index - 1) % #cookies + 1] end
  return wrk.format("GET", path, headers)
end
""".replace("USER_AGENT", USER_AGENT)
PUBLIC_PAGES = ("/", "/topics", "/campaigns/20th-anniversary", "/donate",
                "/campaigns/20th-anniversary/progress.json")
READERS = int(os.environ.get("BENCH_READERS", "200"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CREATE_READERS = """
import sys
from wsgi import app
from membership.accounts.models import User
from membership.accounts.services import hash_password
from membership.extensions import db
from membership.topics.models import Topic, TopicFollow
from membership.types import utcnow
with app.app_context():
    password = hash_password("a benchmark passphrase")
    topics = db.session.query(Topic.id).order_by(Topic.position).limit(6).all()
    for n in range(int(sys.argv[1])):
        user = User(email=f"bench-reader-{n}@example.org", password_hash=password,
                    email_verified_at=utcnow())
        db.session.add(user)
        db.session.flush()
        for topic_id, in topics[n % 3:n % 3 + 2]:
            db.session.add(TopicFollow(user_id=user.id, topic_id=topic_id))
    db.session.commit()
"""


def reader_cookies(app_url: str, env: dict[str, str], count: int, path: Path) -> None:
    """Create `count` readers following topics, sign each in over HTTP, keep the cookies."""
    subprocess.run([str(BIN / "python"), "-c", CREATE_READERS, str(count)], cwd=ROOT,
                   env={**os.environ, **env}, check=True, capture_output=True)
    with path.open("w") as file:
        for n in range(count):
            # By hand: production cookies are Secure, and this is plain HTTP on loopback.
            page = urllib.request.urlopen(urllib.request.Request(
                app_url + "/account/login", headers={"User-Agent": USER_AGENT}))
            cookie = _cookies(page.headers)
            html = page.read().decode()
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
            body = urllib.parse.urlencode({
                "csrf_token": token, "password": "a benchmark passphrase",
                "email": f"bench-reader-{n}@example.org"}).encode()
            request = urllib.request.Request(app_url + "/account/login", body, headers={
                "Cookie": cookie, "User-Agent": USER_AGENT})
            try:
                urllib.request.build_opener(_NoRedirect).open(request)
            except urllib.error.HTTPError as redirect:  # signed in: 302 to the account
                file.write(_cookies(redirect.headers) + "\n")


def visitor_cookies(app_url: str, count: int, path: Path) -> None:
    """`count` visitors who saw a page before: the session (and CSRF secret) it gave them."""
    with path.open("w") as file:
        for _ in range(count):
            page = urllib.request.urlopen(app_url + "/newsletter")
            page.read()
            file.write(_cookies(page.headers) + "\n")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _cookies(headers) -> str:
    return "; ".join(value.split(";", 1)[0] for value in headers.get_all("Set-Cookie") or [])


def bench_public(directory: Path) -> None:
    """Issue 18's table: each public page for visitors (new: no cookie), returning visitors
    (the session an earlier page gave them) and signed-in readers (each request another of
    READERS of each), in English and in Arabic, production settings on SQLite with the demo
    data, each in BENCH_ROUNDS turns with the bare endpoint. Besides requests/s, the ratio of
    the workers' CPU time per request (bare's over the page's), which the machine's drift
    moves much less."""
    env = production_env(f"sqlite:///{directory}/public.sqlite3")
    migrate(env)
    seed(env, 2000)
    cookies = directory / "readers.txt"
    returning = directory / "returning.txt"
    empty = directory / "visitors.txt"
    empty.write_text("")
    rows = []
    with gunicorn("benchmarks.bare_app:app", {}) as bare_url, \
            gunicorn("wsgi:app", env, "/healthz") as app_url:
        reader_cookies(app_url, env, READERS, cookies)
        visitor_cookies(app_url, READERS, returning)
        for path in PUBLIC_PAGES:
            for who, source in (("visitor", empty), ("returning", returning),
                                ("reader", cookies)):
                for language in ("en", "ar"):
                    script = directory / "readers.lua"
                    script.write_text(f'path = "{path}"\nlanguage = "{language}"\n'
                                      + READERS_LUA)
                    # Short turns of the bare endpoint and the page, one after the other:
                    # this machine's speed drifts within a minute. The ratio is the median
                    # of the turns'.
                    turns, cpu_turns = [], []
                    for _turn in range(ROUNDS):
                        bare, bare_cpu = measured(bare_url, bare_url + "/")
                        (rate, total, errors), cpu = measured(
                            app_url, app_url + path, str(script), [str(source)])
                        turns.append((rate / bare[0], rate, bare[0], errors))
                        cpu_turns.append((bare_cpu / bare[1]) / (cpu / total))
                    ratio, rate, bare, _errors = sorted(turns)[len(turns) // 2]
                    cpu_ratio = sorted(cpu_turns)[len(cpu_turns) // 2]
                    errors = sum(turn[3] for turn in turns)
                    rows.append((path, who, language, rate, bare, ratio, cpu_ratio))
                    print(f"GET {path:<42} {who:<9} {language}  {rate:8.1f} req/s  "
                          f"bare {bare:7.1f}  {ratio:5.2f}x  CPU {cpu_ratio:5.2f}x  "
                          f"({errors} errors; turns "
                          f"{' '.join(f'{turn[0]:.2f}' for turn in turns)})", flush=True)
    print("\n| page | who | language | req/s | bare | ratio | CPU ratio |\n"
          "|---|---|---|---|---|---|---|")
    for path, who, language, rate, bare, ratio, cpu_ratio in rows:
        print(f"| `{path}` | {who} | {language} | {rate:,.0f} | {bare:,.0f} | {ratio:.2f} "
              f"| {cpu_ratio:.2f} |")
    for title, column in (("requests/s", 5), ("CPU per request", 6)):
        print(f"\nRatios to the bare endpoint, {title}:\n\n| page | visitor en | visitor ar "
              "| returning en | returning ar | reader en | reader ar |\n"
              "|---|---|---|---|---|---|---|")
        for path in PUBLIC_PAGES:
            ratios = [f"{row[column]:.2f}" for row in rows if row[0] == path]
            print(f"| `{path}` | {' | '.join(ratios)} |")


def measured(base: str, url: str, *args) -> tuple[tuple[float, int, int], float]:
    """wrk's figures for `url`, and the CPU seconds the server's workers spent meanwhile."""
    before = workers_cpu_seconds(base)
    figures = wrk(url, *args)
    return figures, workers_cpu_seconds(base) - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=["donate", "webhook", "renewals", "campaign",
                                             "languages", "public", "all"])
    scenario = parser.parse_args().scenario
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: run scripts/install-wrk.sh")
    print(f"{os.cpu_count()} CPUs, gunicorn {' '.join(WORKER_ARGS)}, "
          f"wrk -t2 -c{CONNECTIONS} -d{DURATION}s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        if scenario in ("donate", "all"):
            bench_donate(Path(tmp))
        if scenario in ("webhook", "all"):
            bench_webhook(Path(tmp))
        if scenario in ("renewals", "all"):
            bench_renewals(Path(tmp))
        if scenario in ("campaign", "all"):
            bench_campaign(Path(tmp))
        if scenario in ("languages", "all"):
            bench_languages(Path(tmp))
        if scenario in ("public", "all"):
            bench_public(Path(tmp))


if __name__ == "__main__":
    main()

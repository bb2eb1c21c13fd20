"""Screenshots of the pages people see, at desktop and phone widths, for a closing note's
before and after: run from a checkout (an older one too, through `git worktree`):

    .venv/bin/python scripts/screenshots.py OUT_DIR [--prefix before-]

It migrates a fresh SQLite database, seeds the demo (`flask seed-demo`), serves the app on
a free port and drives Debian's Chromium: as a visitor, as a reader who gives every month,
and as the demo staff member."""

from __future__ import annotations

import argparse
import os
import subprocess  # nosec B404: runs this checkout's own flask commands
import sys
import tempfile
import threading
from pathlib import Path

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
READER_PASSWORD = "a sturdy passphrase"  # noqa: S105  # nosec B105: a throwaway demo database
STAFF = ("staff@example.org", "demo-staff-pass-2026")

VISITOR_PAGES = [("home", "/"), ("donate", "/donate"),
                 ("donate-ended", "/donate?campaign=new-year-appeal"),
                 ("campaign", "/campaigns/20th-anniversary"),
                 ("campaign-ended", "/campaigns/new-year-appeal"), ("topics", "/topics")]
READER_PAGES = [("account", "/account"), ("giving", "/account/giving"),
                ("topics-reader", "/topics")]
STAFF_PAGES = [("admin", "/admin/"), ("admin-campaigns", "/admin/campaigns"),
               ("admin-topics", "/admin/topics"), ("admin-audit", "/admin/audit"),
               ("admin-donors", "/admin/donors")]


def prepare(database: Path) -> dict[str, str]:
    env = {**os.environ, "MEMBERSHIP_ENV": "development", "FLASK_APP": "wsgi",
           "DATABASE_URL": f"sqlite:///{database}"}
    flask = [sys.executable, "-m", "flask"]
    for command in (["db", "upgrade"], ["seed-demo", "--donations", "400"]):
        subprocess.run(flask + command, env=env, check=True,  # noqa: S603  # nosec B603
                       capture_output=True)
    return env


def a_monthly_donor() -> str:
    """An account for a demo donor who gives monthly, verified and linked to the gifts."""
    from sqlalchemy import select

    from membership.accounts.models import User
    from membership.accounts.services import hash_password
    from membership.donations.donors import link_donor_to_account
    from membership.donations.models import Donor, RecurringGift
    from membership.extensions import db
    from membership.types import utcnow

    email = db.session.scalar(select(Donor.email).join(RecurringGift).where(
        RecurringGift.status == "active").order_by(Donor.id).limit(1))
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:  # the demo gives some donors an account without a usable password
        user = User(email=email, is_staff=False)
        db.session.add(user)
    user.name, user.password_hash = "Rana", hash_password(READER_PASSWORD)
    user.email_verified_at = utcnow()
    db.session.flush()
    link_donor_to_account(user)
    db.session.commit()
    return email


def serve(app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def log_in(page, email: str, password: str) -> None:
    page.goto("/account/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def shoot(browser, base_url: str, out: Path, prefix: str, pages, who=None) -> None:
    for width_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context = browser.new_context(base_url=base_url, viewport=viewport)
        page = context.new_page()
        if who:
            log_in(page, *who)
        for name, path in pages:
            page.goto(path)
            page.screenshot(path=str(out / f"{prefix}{name}-{width_name}.png"),
                            full_page=width_name == "desktop")
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--prefix", default="")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, os.getcwd())  # this checkout's package, not an installed one

    from playwright.sync_api import sync_playwright

    from membership import create_app

    with tempfile.TemporaryDirectory() as folder:
        env = prepare(Path(folder) / "screenshots.sqlite3")
        os.environ.update(env)
        app = create_app()
        app.config.update(RATELIMIT_ENABLED=False)
        with app.app_context():
            reader = a_monthly_donor()
        server, base_url = serve(app)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path="/usr/bin/chromium",
                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
                shoot(browser, base_url, args.out, args.prefix, VISITOR_PAGES)
                shoot(browser, base_url, args.out, args.prefix, READER_PAGES,
                      (reader, READER_PASSWORD))
                shoot(browser, base_url, args.out, args.prefix, STAFF_PAGES, STAFF)
                browser.close()
        finally:
            server.shutdown()
    print(f"screenshots in {args.out}")


if __name__ == "__main__":
    main()

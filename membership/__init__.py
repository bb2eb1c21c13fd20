"""membership: the reader-revenue service of an independent, reader-funded news agency."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask_babel import get_locale
from flask_login import user_logged_in
from werkzeug.middleware.proxy_fix import ProxyFix

from membership.config import load_config
from membership.edge_cache import EdgeCache, SessionInterface
from membership.extensions import babel, csrf, db, limiter, login_manager, migrate
from membership.i18n import (
    LANGUAGES,
    READER_LANGUAGE_KEY,
    install_template_gettext,
    isolate,
    select_locale,
    text_direction,
    vary_by_language,
)
from membership.inputs import register_input_guards
from membership.observability import register_observability
from membership.page_cache import init_page_cache
from membership.security import register_security_headers
from membership.sql import configure_sqlite
from membership.static_files import init_static_files
from membership.types import render_migration_type
from membership.urls import init_site_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent

def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. `config` overrides settings read from the environment (tests)."""
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_path=str(PROJECT_ROOT / "instance"),
    )
    environ = dict(os.environ)
    if config and "MEMBERSHIP_ENV" in config:
        environ["MEMBERSHIP_ENV"] = config["MEMBERSHIP_ENV"]
    app.config.update(load_config(app.instance_path, environ))
    app.config.update(config or {})
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    register_extensions(app)
    register_domains(app)
    register_input_guards(app)
    register_blueprints(app)
    init_site_url(app)
    register_error_handlers(app)
    register_template_context(app)
    register_observability(app)
    if app.config["TRUSTED_PROXIES"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"],
                                x_proto=1, x_host=1)
    app.session_interface = SessionInterface()
    if app.config["EDGE_CACHE_SECONDS"] > 0:
        app.wsgi_app = EdgeCache(app.wsgi_app, app.config["EDGE_CACHE_SECONDS"],
                                 app.config["PAGE_CACHE_SIZE"])
    return app


def register_extensions(app: Flask) -> None:
    from membership.accounts.models import User
    from membership.accounts.sessions import (
        checked_account_id,
        load_session_user,
        reader_language,
    )
    from membership.observability.logs import ACCOUNT_ID_KEY

    db.init_app(app)
    with app.app_context():
        configure_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"),
                     render_as_batch=True, compare_type=True,
                     render_item=render_migration_type)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    install_template_gettext(app)
    app.after_request(vary_by_language)

    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(cookie_id: str) -> User | None:
        return load_session_user(cookie_id)

    app.extensions[READER_LANGUAGE_KEY] = reader_language
    app.extensions[ACCOUNT_ID_KEY] = checked_account_id

    register_security_headers(app)
    init_page_cache(app)
    init_static_files(app)


def register_domains(app: Flask) -> None:
    """Wire the domains together: the payment gateway, the signals other domains answer,
    and what donations ask of campaigns without importing them."""
    from membership.accounts.signals import (
        account_closing,
        account_deleting,
        account_exporting,
        email_verified,
    )
    from membership.campaigns import services as campaigns
    from membership.donations import donors, giving
    from membership.donations.checkout import CAMPAIGN_OFFERS_KEY
    from membership.donations.documents import register_documents
    from membership.donations.signals import donation_changed
    from membership.newsletter import services as newsletter
    from membership.payments.gateway import init_gateway
    from membership.reports.kept import keep_totals
    from membership.topics import routes as topics_routes
    from membership.topics import services as topics

    init_gateway(app)
    register_documents()
    email_verified.connect(donors.link_donor_to_account, weak=False)
    account_closing.connect(giving.cancel_recurring_gifts, weak=False)
    account_deleting.connect(donors.anonymize_donor_records, weak=False)
    account_exporting.connect(giving.export_giving, weak=False)
    account_exporting.connect(giving.export_recurring_gifts, weak=False)
    donation_changed.connect(keep_totals, weak=False)
    donation_changed.connect(campaigns.count_donation_change, weak=False)
    account_exporting.connect(topics.export_follows, weak=False)
    account_exporting.connect(newsletter.export_subscription, weak=False)
    account_deleting.connect(newsletter.forget_subscriber, weak=False)
    user_logged_in.connect(topics_routes.follow_pending_topic, weak=False)
    app.extensions[CAMPAIGN_OFFERS_KEY] = campaigns.campaign_offer
    campaigns.init_caches(app)


def register_blueprints(app: Flask) -> None:
    from membership import admin, demo
    from membership.accounts import cli as accounts_cli
    from membership.accounts import routes as accounts
    from membership.campaigns import routes as campaigns
    from membership.donations import cli as donations_cli
    from membership.donations import routes as donations
    from membership.mail import cli as mail_cli
    from membership.newsletter import cli as newsletter_cli
    from membership.newsletter import routes as newsletter
    from membership.payments import cli as payments_cli
    from membership.payments import routes as payments
    from membership.reports import cli as reports_cli
    from membership.site import routes as site
    from membership.topics import cli as topics_cli
    from membership.topics import routes as topics

    for blueprint in (site.bp, accounts.bp, topics.bp, newsletter.bp, donations.bp,
                      campaigns.bp, payments.bp, admin.bp, accounts_cli.bp, mail_cli.bp,
                      payments_cli.bp, topics_cli.bp, newsletter_cli.bp, reports_cli.bp,
                      donations_cli.bp, demo.bp):
        app.register_blueprint(blueprint)
    if app.config["PAYMENTS_GATEWAY"] == "sandbox":
        app.register_blueprint(payments.sandbox_bp)


def register_error_handlers(app: Flask) -> None:
    from membership.errors import register_error_handlers as register

    register(app)


def register_template_context(app: Flask) -> None:
    from membership.admin.audit import readable
    from membership.campaigns.services import campaign_title, featured_campaign
    from membership.donations.cards import brand_label, expires_before_next_gift
    from membership.donations.forms import frequency_label, status_label
    from membership.donations.giving import switched_amount
    from membership.donations.money import format_major, format_money
    from membership.newsletter.services import consent_text, status_of
    from membership.types import utcnow

    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["languages"] = LANGUAGES
    app.jinja_env.globals["text_direction"] = text_direction
    # A callable: only pages that show the campaign banner pay for the lookup.
    app.jinja_env.globals["featured_campaign"] = lambda: featured_campaign(utcnow())
    app.jinja_env.globals["newsletter_status"] = status_of
    app.jinja_env.globals["newsletter_consent"] = consent_text
    app.add_template_filter(format_money, "money")
    app.add_template_filter(format_major, "major_money")
    app.add_template_filter(frequency_label, "frequency_label")
    app.add_template_filter(status_label, "status_label")
    app.add_template_filter(isolate, "bdi")
    app.add_template_filter(switched_amount, "switched_amount")
    app.add_template_filter(brand_label, "card_brand")
    app.add_template_test(expires_before_next_gift, "card_expiring_first")
    app.add_template_filter(readable, "readable")
    app.add_template_filter(campaign_title, "campaign_title")

    @app.context_processor
    def organization() -> dict[str, Any]:
        return {"organization_name": app.config["ORGANIZATION_NAME"]}

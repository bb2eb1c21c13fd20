from __future__ import annotations

import pytest

from membership import create_app
from membership.config import ConfigError, load_config
from membership.urls import external_url


def test_healthz_answers_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_healthz_answers_503_when_the_database_does_not(tmp_path):
    app = create_app({"MEMBERSHIP_ENV": "testing",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/missing/dir/db.sqlite3"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "error"


def test_home_page_renders_with_security_headers(client):
    response = client.get("/")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_pages_use_no_inline_script_or_third_party_asset(client):
    page = client.get("/account/signup").get_data(as_text=True)
    assert "<script>" not in page and " style=" not in page
    assert "http://" not in page.replace("http://membership.test", "")
    assert "https://" not in page


def test_production_sends_hsts_and_secure_cookies(database_url, monkeypatch):
    for key, value in {"SECRET_KEY": "s3cret", "STRIPE_SECRET_KEY": "sk_live_x",
                       "STRIPE_PUBLISHABLE_KEY": "pk_live_x", "STRIPE_WEBHOOK_SECRET": "whsec_x",
                       "DATABASE_URL": database_url,
                       "SITE_URL": "https://members.example.test"}.items():
        monkeypatch.setenv(key, value)
    app = create_app({"MEMBERSHIP_ENV": "production"})
    response = app.test_client().get("/", base_url="https://membership.test")
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    assert app.config["PAYMENTS_GATEWAY"] == "stripe"


def test_not_found_page_is_friendly_html_and_json_for_json_clients(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"] == "Page not found"


def test_unexpected_errors_render_the_500_page(app, client):
    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    response = client.get("/boom")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Something went wrong" in page and "kaboom" not in page


# Settings -------------------------------------------------------------------------------

def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config(str(tmp_path), {"MEMBERSHIP_ENV": "production"})


def test_production_refuses_to_start_without_stripe_keys(tmp_path):
    with pytest.raises(ConfigError, match="STRIPE_SECRET_KEY"):
        load_config(str(tmp_path), {"SECRET_KEY": "x"})


def test_production_is_the_default_environment(tmp_path):
    with pytest.raises(ConfigError):
        load_config(str(tmp_path), {})


def test_sandbox_gateway_is_refused_in_production(tmp_path):
    environ = {"MEMBERSHIP_ENV": "production", "SECRET_KEY": "x", "STRIPE_SECRET_KEY": "sk",
               "STRIPE_PUBLISHABLE_KEY": "pk", "STRIPE_WEBHOOK_SECRET": "wh",
               "PAYMENTS_GATEWAY": "sandbox"}
    with pytest.raises(ConfigError, match="sandbox"):
        load_config(str(tmp_path), environ)


def test_production_refuses_to_start_without_site_url(tmp_path):
    environ = {"MEMBERSHIP_ENV": "production", "SECRET_KEY": "x", "STRIPE_SECRET_KEY": "sk",
               "STRIPE_PUBLISHABLE_KEY": "pk", "STRIPE_WEBHOOK_SECRET": "wh"}
    with pytest.raises(ConfigError, match="SITE_URL must be set"):
        load_config(str(tmp_path), environ)
    for bad in ("members.example.org", "ftp://members.example.org", "https://",
                "https://members.example.org/?next=x"):
        with pytest.raises(ConfigError, match="SITE_URL"):
            load_config(str(tmp_path), {**environ, "SITE_URL": bad})


def test_site_url_keeps_its_scheme_port_and_path_prefix(tmp_path):
    config = load_config(str(tmp_path), {"MEMBERSHIP_ENV": "development",
                                         "SITE_URL": "https://example.org:8443/members/"})
    assert config["SITE_URL"] == "https://example.org:8443/members"
    app = create_app({"MEMBERSHIP_ENV": "testing", "SITE_URL": "https://example.org:8443/members/",
                      "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.app_context():  # no request and no server name: as in a command
        assert external_url("accounts.login") == "https://example.org:8443/members/account/login"


def test_development_defaults(tmp_path):
    config = load_config(str(tmp_path), {"MEMBERSHIP_ENV": "development"})
    assert config["PAYMENTS_GATEWAY"] == "sandbox"
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/membership.sqlite3"
    assert config["DONATION_CURRENCIES"] == ["usd"]
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert config["RATELIMIT_ENABLED"] is True
    assert config["SITE_URL"] == "http://127.0.0.1:5000"
    assert load_config(str(tmp_path), {"MEMBERSHIP_ENV": "development", "PORT": "8080"}
                       )["SITE_URL"] == "http://127.0.0.1:8080"


def test_settings_from_the_environment(tmp_path):
    config = load_config(str(tmp_path), {
        "MEMBERSHIP_ENV": "development", "STRIPE_SECRET_KEY": "sk_test_1",
        "DONATION_CURRENCIES": "EUR, usd", "REDIS_URL": "redis://127.0.0.1:6379/0",
        "RATELIMIT_ENABLED": "false", "DATABASE_URL": "postgresql+psycopg://db/x",
    })
    assert config["PAYMENTS_GATEWAY"] == "stripe"
    assert config["DONATION_CURRENCIES"] == ["eur", "usd"]
    assert config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/0"
    assert config["RATELIMIT_ENABLED"] is False
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://db/x"


def test_unknown_environment_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="MEMBERSHIP_ENV"):
        load_config(str(tmp_path), {"MEMBERSHIP_ENV": "staging"})


def test_oversized_requests_are_refused_with_413(client):
    response = client.post("/stripe/webhook", data=b"x" * (3 * 1024 * 1024),
                           content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"] == "Request too large"


@pytest.mark.parametrize("url", ["/account/signup", "/account/login", "/newsletter", "/donate"])
def test_fields_carry_no_python_none_for_screen_readers(client, url):
    page = client.get(url).get_data(as_text=True)
    assert '="None"' not in page
    assert "aria-invalid" not in page  # nothing is invalid before the form is sent

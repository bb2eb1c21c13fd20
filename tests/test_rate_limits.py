from __future__ import annotations

import uuid

import pytest
import redis

from membership import create_app
from membership.extensions import db, limiter
from tests.conftest import Browserless, app_config


def post_login(client, email: str, ip: str):
    forms = Browserless(client)
    return client.post("/account/login", data={
        "csrf_token": forms.token(), "email": email, "password": "wrong guess, sorry",
    }, environ_base={"REMOTE_ADDR": ip})


def test_login_is_limited_per_account_across_addresses(app, client, reader):
    app.config["RATELIMIT_AUTH_PER_ACCOUNT"] = "3 per minute"
    statuses = [post_login(client, "reader@example.org", f"10.0.0.{n}").status_code
                for n in range(4)]
    assert statuses == [422, 422, 422, 429]
    # Another account from the same addresses is not affected.
    assert post_login(client, "other@example.org", "10.0.0.1").status_code == 422


def test_login_is_limited_per_address_across_accounts(app, client):
    app.config["RATELIMIT_AUTH_PER_IP"] = "3 per minute"
    statuses = [post_login(client, f"user{n}@example.org", "10.0.0.9").status_code
                for n in range(4)]
    assert statuses == [422, 422, 422, 429]
    assert post_login(client, "user9@example.org", "10.0.0.10").status_code == 422


def test_rate_limited_page_is_friendly(app, client):
    app.config["RATELIMIT_AUTH_PER_IP"] = "1 per minute"
    post_login(client, "a@example.org", "10.0.0.7")
    response = post_login(client, "b@example.org", "10.0.0.7")
    assert response.status_code == 429
    assert "too many times" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/account/signup", "/account/forgot-password",
                                  "/account/login/link"])
def test_signup_and_reset_are_limited_too(app, client, path):
    app.config["RATELIMIT_AUTH_PER_IP"] = "2 per minute"
    forms = Browserless(client)
    statuses = [client.post(path, data={"csrf_token": forms.token(path), "email": "x@y.org",
                                        "password": "12"}).status_code for _ in range(3)]
    assert statuses[-1] == 429


def test_rate_limits_can_be_turned_off(database_url, reader):
    app = create_app(app_config(database_url, RATELIMIT_ENABLED=False,
                                RATELIMIT_AUTH_PER_IP="1 per minute"))
    client = app.test_client()
    statuses = [post_login(client, "reader@example.org", "10.0.0.1").status_code
                for _ in range(3)]
    assert 429 not in statuses
    with app.app_context():
        db.engine.dispose()


def test_rate_limits_use_redis_when_configured(database_url):
    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url).ping()
    except redis.ConnectionError:
        pytest.skip("no Redis server on 127.0.0.1:6379")
    # A prefix of its own: another run of the suite may share this Redis at the same time.
    prefix = f"test-{uuid.uuid4().hex}"
    app = create_app(app_config(database_url, RATELIMIT_STORAGE_URI=url,
                                RATELIMIT_KEY_PREFIX=prefix,
                                RATELIMIT_AUTH_PER_IP="1 per minute"))
    client = app.test_client()
    assert post_login(client, "a@example.org", "10.0.0.3").status_code == 422
    assert post_login(client, "b@example.org", "10.0.0.3").status_code == 429
    assert redis.Redis.from_url(url).keys(f"*{prefix}*")
    limiter.reset()
    with app.app_context():
        db.engine.dispose()

"""The shared cache in front of the app (issue 18): what says any cache may keep it is
served again for at most a second without running the app; nothing else is."""

from __future__ import annotations

import time

import pytest

from membership.topics.services import seed_topics
from tests.builders import give, make_campaign

PROGRESS = "/campaigns/20th-anniversary/progress.json"


@pytest.fixture
def app_overrides() -> dict:
    return {"EDGE_CACHE_SECONDS": 0.5}


@pytest.fixture
def campaign(app):
    seed_topics()
    return make_campaign()


def raised(response) -> int:
    return response.get_json()["raised_cents"]


def test_progress_is_served_again_for_at_most_its_seconds(client, campaign):
    first = client.get(PROGRESS)
    assert first.headers["Cache-Control"] == "public, max-age=1"
    assert "Vary" not in first.headers and "Set-Cookie" not in first.headers
    give(5000)
    again = client.get(PROGRESS, headers={"Cookie": "session=someone"})
    assert raised(again) == 0  # kept: the cookie does not change a public answer
    assert again.headers["X-Request-ID"] != first.headers["X-Request-ID"]
    time.sleep(0.6)
    assert raised(client.get(PROGRESS)) == 5000


def test_what_is_private_or_failed_is_never_kept(app, client, campaign):
    client.get(PROGRESS)
    give(5000)
    # Credentials bypass it; pages (a CSRF token, a session cookie) and 404s never enter.
    assert raised(client.get(PROGRESS, headers={"Authorization": "Bearer x"})) == 5000
    page = client.get("/donate")
    assert "Cookie" in page.headers["Vary"] and page.headers["Set-Cookie"]
    assert client.get("/campaigns/nothing/progress.json").status_code == 404
    kept = app.wsgi_app.answers
    assert [key[0] for key in kept] == [PROGRESS]

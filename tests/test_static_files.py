"""Static files under fingerprinted URLs (issue 18): kept a year by browsers and CDNs;
a changed file gets another URL; an old or missing fingerprint is revalidated."""

from __future__ import annotations

import re


def test_pages_link_fingerprinted_files_kept_for_a_year(client):
    page = client.get("/account/login").get_data(as_text=True)
    [stylesheet] = re.findall(r'href="(/static/css/site\.css\?v=[0-9a-f]{12})"', page)
    response = client.get(stylesheet)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_an_old_fingerprint_or_none_is_revalidated(client):
    for url in ("/static/css/site.css", "/static/css/site.css?v=000000000000"):
        response = client.get(url)
        assert response.status_code == 200
        assert "immutable" not in response.headers.get("Cache-Control", "")
        etag = response.headers["ETag"]
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304


def test_a_missing_file_is_404_without_a_fingerprint(client):
    assert client.get("/static/nothing.css?v=abc").status_code == 404
    assert client.get("/static/../wsgi.py").status_code == 404

"""The topic catalogue, following and unfollowing (with and without JavaScript), the
pending follow of an anonymous reader, and the staff pages."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from membership.admin.models import AuditEntry
from membership.extensions import db
from membership.topics.models import Topic, TopicFollow
from membership.topics.services import CATALOGUE, seed_topics

CONTRACT_SLUGS = {"afghanistan", "gaza", "israel", "pakistan", "palestinian-territories", "uae"}


@pytest.fixture
def catalogue(app):
    seed_topics()
    db.session.commit()


def follows(user_id: int | None = None) -> set[str]:
    db.session.rollback()
    query = select(Topic.slug).join(TopicFollow, TopicFollow.topic_id == Topic.id)
    if user_id is not None:
        query = query.where(TopicFollow.user_id == user_id)
    return set(db.session.scalars(query))


def test_seed_keeps_the_catalogue_and_what_staff_changed(catalogue):
    slugs = set(db.session.scalars(select(Topic.slug)))
    assert slugs >= CONTRACT_SLUGS
    assert len(slugs) == sum(len(topics) for topics in CATALOGUE.values())
    gaza = db.session.scalar(select(Topic).where(Topic.slug == "gaza"))
    gaza.name = "Gaza Strip"
    db.session.commit()
    assert seed_topics() == 0
    assert db.session.scalar(select(Topic.name).where(Topic.slug == "gaza")) == "Gaza Strip"


def test_topics_page_groups_regions_and_themes_and_leaves_hidden_ones_out(client, catalogue):
    db.session.scalar(select(Topic).where(Topic.slug == "energy")).hidden = True
    db.session.commit()
    html = client.get("/topics").get_data(as_text=True)
    assert html.index("Regions") < html.index("Afghanistan") < html.index("Themes")
    assert 'id="topic-gaza"' in html and 'id="topic-energy"' not in html
    assert 'aria-pressed="false"' in html


def test_follow_and_unfollow_without_javascript(forms, reader, catalogue):
    forms.login("reader@example.org", "a sturdy passphrase")
    response = forms.post("/topics/gaza/follow", {"next": "/topics"}, page="/topics")
    assert response.status_code == 302
    assert response.headers["Location"] == "/topics#topic-gaza"
    forms.post("/topics/gaza/follow", page="/topics")  # twice: still one follow
    assert follows(reader.id) == {"gaza"}
    assert db.session.scalar(select(func.count()).select_from(TopicFollow)) == 1
    assert 'aria-pressed="true"' in forms.client.get("/topics").get_data(as_text=True)
    forms.post("/topics/gaza/unfollow", page="/topics")
    assert follows(reader.id) == set()


def test_follow_with_javascript_answers_json(forms, reader, catalogue):
    forms.login("reader@example.org", "a sturdy passphrase")
    response = forms.post("/topics/pakistan/follow", page="/topics",
                          headers={"Accept": "application/json"})
    assert response.get_json() == {"slug": "pakistan", "following": True}
    response = forms.post("/topics/pakistan/unfollow", page="/topics",
                          headers={"Accept": "application/json"})
    assert response.get_json() == {"slug": "pakistan", "following": False}


def test_unknown_or_hidden_topics_are_404_and_forged_posts_400(forms, reader, catalogue):
    forms.login("reader@example.org", "a sturdy passphrase")
    db.session.scalar(select(Topic).where(Topic.slug == "energy")).hidden = True
    db.session.commit()
    assert forms.post("/topics/atlantis/follow", page="/topics").status_code == 404
    assert forms.post("/topics/energy/follow", page="/topics").status_code == 404
    assert forms.client.post("/topics/gaza/follow").status_code == 400  # no CSRF token
    assert follows() == set()


def test_an_anonymous_reader_logs_in_and_comes_back_following(forms, reader, catalogue):
    response = forms.post("/topics/israel/follow", page="/topics")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/login?next=/topics")
    assert follows() == set()
    response = forms.post("/account/login?next=/topics", {
        "email": "reader@example.org", "password": "a sturdy passphrase"})
    assert response.headers["Location"] == "/topics"
    assert follows(reader.id) == {"israel"}
    assert "You now follow Israel." in forms.client.get("/topics").get_data(as_text=True)


def test_follows_are_in_the_data_download_and_go_with_the_account(forms, reader, catalogue):
    forms.login("reader@example.org", "a sturdy passphrase")
    forms.post("/topics/uae/follow", page="/topics")
    export = forms.client.get("/account/export.json").get_json()
    assert export["followed_topics"] == ["uae"]
    forms.post("/account/delete", {"password": "a sturdy passphrase", "confirm": "y"},
               page="/account")
    assert db.session.scalar(select(func.count()).select_from(TopicFollow)) == 0


# Staff ---------------------------------------------------------------------------------------

@pytest.fixture
def signed_in(forms, staff, catalogue):
    forms.login("editor@example.org", "another sturdy passphrase")
    return forms


def test_staff_add_rename_hide_and_reorder_topics(signed_in):
    response = signed_in.post("/admin/topics", {"name": "Oman", "slug": "oman",
                                                "kind": "region"})
    assert response.status_code == 302
    oman = db.session.scalar(select(Topic).where(Topic.slug == "oman"))
    assert oman.kind == "region" and oman.position > 0
    response = signed_in.post(f"/admin/topics/{oman.id}/edit",
                              {"name": "Sultanate of Oman", "hidden": "y"},
                              page=f"/admin/topics/{oman.id}/edit")
    assert response.status_code == 302
    db.session.refresh(oman)
    assert (oman.name, oman.hidden) == ("Sultanate of Oman", True)
    gaza = db.session.scalar(select(Topic).where(Topic.slug == "gaza"))
    before = gaza.position
    signed_in.post(f"/admin/topics/{gaza.id}/move/up", page="/admin/topics")
    db.session.refresh(gaza)
    assert gaza.position == before - 1
    actions = list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["topic.create", "topic.edit", "topic.move"]


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"name": "Oman", "slug": "Oman!", "kind": "region"}, "slug", "Use lowercase letters"),
    ({"name": "Gaza again", "slug": "gaza", "kind": "region"}, "slug",
     "Another topic already uses this address."),
    ({"name": "", "slug": "oman", "kind": "region"}, "name", "This field is required."),
    ({"name": "Oman", "slug": "oman", "kind": "planet"}, "kind", "Not a valid choice"),
])
def test_bad_topic_input_is_refused_next_to_the_field(signed_in, data, field, message):
    count = db.session.scalar(select(func.count()).select_from(Topic))
    response = signed_in.post("/admin/topics", data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html.split(f'id="{field}-error">', 1)[1].split("</p>", 1)[0]
    assert db.session.scalar(select(func.count()).select_from(Topic)) == count


def test_the_donor_page_shows_the_topics_a_donor_follows(signed_in, reader):
    from tests.builders import give

    db.session.add(TopicFollow(user_id=reader.id, topic_id=db.session.scalar(
        select(Topic.id).where(Topic.slug == "gaza"))))
    db.session.commit()
    give(1000, "reader@example.org", campaign=None)
    from membership.donations.models import Donor

    donor = db.session.scalar(select(Donor).where(Donor.email == "reader@example.org"))
    html = signed_in.client.get(f"/admin/donors/{donor.id}").get_data(as_text=True)
    assert "Gaza" in html

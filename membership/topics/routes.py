from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from membership.extensions import db
from membership.forms import PostOnlyForm
from membership.inputs import page_number
from membership.page_cache import frame, public_page
from membership.topics import services, stories
from membership.urls import safe_next_url

bp = Blueprint("topics", __name__)

PENDING_FOLLOW = "pending_follow"  # a topic an anonymous reader chose before logging in


@bp.get("/topics")
@public_page(reader=lambda reader: (frame(reader), frozenset(services.followed_ids(reader.id))))
def index():
    followed = services.followed_ids(current_user.id) if current_user.is_authenticated \
        else set()
    return render_template("topics/index.html", catalogue=services.catalogue(),
                           followed=followed, form=PostOnlyForm(formdata=None),
                           welcome=request.args.get("welcome") == "1")


@bp.get("/my-news")
def my_news():
    if not current_user.is_authenticated:
        return render_template("topics/my_news.html", page=None, follows_any=False)
    page = db.paginate(stories.my_news(current_user),
                       page=page_number(), per_page=20,
                       error_out=False)
    return render_template("topics/my_news.html", page=page,
                           follows_any=stories.follows_any(current_user))


@bp.post("/topics/<slug>/follow")
def follow(slug: str):
    return _toggle(slug, following=True)


@bp.post("/topics/<slug>/unfollow")
def unfollow(slug: str):
    return _toggle(slug, following=False)


def _toggle(slug: str, following: bool):
    topic = services.visible_topic(slug)
    if topic is None:
        abort(404)
    if not PostOnlyForm().validate_on_submit():
        abort(400)
    if not current_user.is_authenticated:
        # Remembered until they have an account: they come back following it.
        if following:
            session[PENDING_FOLLOW] = slug
        flash(_("Log in or create a free account to follow %(topic)s.", topic=topic.name),
              "info")
        return redirect(url_for("accounts.login", next=url_for("topics.index")))
    if following:
        services.follow(current_user, topic)
    else:
        services.unfollow(current_user, topic)
    db.session.commit()
    if request.accept_mimetypes.best == "application/json":
        return jsonify(slug=topic.slug, following=following)
    back = safe_next_url(request.form.get("next")) or url_for("topics.index")
    return redirect(f"{back}#topic-{topic.slug}")


def follow_pending_topic(app, user, **extra) -> None:
    """On log-in (or sign-up): follow the topic the reader chose while anonymous."""
    slug = session.pop(PENDING_FOLLOW, None)
    topic = services.visible_topic(slug) if slug else None
    if topic is not None:
        services.follow(user, topic)  # the sign-in commits it
        flash(_("You now follow %(topic)s.", topic=topic.name), "success")

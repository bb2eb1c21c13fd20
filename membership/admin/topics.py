"""Staff pages for the topic catalogue: add, rename, hide, reorder."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from membership.admin.audit import changes, record_staff_action
from membership.admin.blueprint import bp
from membership.errors import form_status
from membership.extensions import db
from membership.forms import PostOnlyForm
from membership.topics import services
from membership.topics.forms import NewTopicForm, TopicForm
from membership.topics.models import Topic


@bp.route("/topics", methods=["GET", "POST"])
def topics():
    form = NewTopicForm()
    if form.validate_on_submit():
        if services.slug_taken(form.slug.data):
            form.slug.errors.append(_("Another topic already uses this address."))
        else:
            topic = services.add_topic(form.slug.data, form.name.data, form.kind.data)
            topic.hidden = form.hidden.data
            record_staff_action("topic.create", f"topic {topic.slug}", name=topic.name,
                                kind=topic.kind, hidden=topic.hidden)
            db.session.commit()
            flash(_("Topic “%(name)s” added.", name=topic.name), "success")
            return redirect(url_for("admin.topics"))
    catalogue = services.catalogue(include_hidden=True)
    ids = [topic.id for kind in catalogue.values() for topic in kind]
    return render_template("admin/topics.html", catalogue=catalogue, form=form,
                           followers=services.followers(ids) if ids else {}), form_status(form)


@bp.route("/topics/<int:topic_id>/edit", methods=["GET", "POST"])
def edit_topic(topic_id: int):
    topic = db.get_or_404(Topic, topic_id)
    form = TopicForm(obj=topic)
    if form.validate_on_submit():
        after = {"name": form.name.data, "hidden": form.hidden.data}
        before = {"name": topic.name, "hidden": topic.hidden}
        topic.name, topic.hidden = after["name"], after["hidden"]
        record_staff_action("topic.edit", f"topic {topic.slug}", **changes(before, after))
        db.session.commit()
        flash(_("Topic “%(name)s” saved.", name=topic.name), "success")
        return redirect(url_for("admin.topics"))
    return render_template("admin/topic_form.html", form=form, topic=topic), form_status(form)


@bp.post("/topics/<int:topic_id>/move/<direction>")
def move_topic(topic_id: int, direction: str):
    topic = db.get_or_404(Topic, topic_id)
    if direction not in ("up", "down") or not PostOnlyForm().validate_on_submit():
        abort(400)
    services.move_topic(topic, -1 if direction == "up" else 1)
    record_staff_action("topic.move", f"topic {topic.slug}", direction=direction)
    db.session.commit()
    return redirect(url_for("admin.topics") + f"#topic-{topic.slug}")

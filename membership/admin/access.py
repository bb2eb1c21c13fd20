from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user

from membership.extensions import login_manager


def staff_required(view):
    """Anonymous visitors are sent to log in; signed-in readers who are not staff get 403."""

    @wraps(view)
    def guarded(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.is_staff:
            abort(403)
        return view(*args, **kwargs)

    return guarded

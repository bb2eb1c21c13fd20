"""A tribute gift's card: the person it honours (or their family) hears of the gift, once,
when it is paid. Their address is kept on the checkout only until then (or until the
checkout expires or fails), and in the outbox only until the card has gone: it joins no
list, no donor record and no export."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import update

from membership.donations.models import Checkout
from membership.extensions import db
from membership.mail.services import queue_mail
from membership.types import utcnow


def send_tribute_card(checkout: Checkout | None) -> bool:
    """Queue the card if the donor asked for one and it has not gone; True if queued."""
    if checkout is None or not checkout.honoree_email or not checkout.dedication_name:
        return False
    address = checkout.honoree_email
    # Claimed by a conditional UPDATE: of two payments recorded at once, one sends it.
    claimed = db.session.execute(
        update(Checkout)
        .where(Checkout.id == checkout.id, Checkout.honoree_email.is_not(None))
        .values(honoree_email=None, honoree_notified_at=utcnow())).rowcount
    db.session.expire(checkout, ["honoree_email", "honoree_notified_at"])
    if not claimed:
        return False
    donor = checkout.donor
    memory = checkout.dedication_kind == "memory"
    queue_mail(address, "donations/tribute_card",
               _l("A gift in memory of %(name)s", name=checkout.dedication_name) if memory
               else _l("A gift in your honor"),
               language=donor.language, memory=memory, honoree=checkout.dedication_name,
               # The donor's name unless they gave it to no one; never their address.
               donor_name=None if checkout.anonymous else donor.name or None,
               message=checkout.dedication_message, forget_recipient=True)
    return True

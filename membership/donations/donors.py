"""Donors: one per e-mail address, joined to the account that proves it owns the address,
and anonymized when that account is deleted."""

from __future__ import annotations

from functools import cache

from sqlalchemy import bindparam, select

from membership.accounts.models import User
from membership.accounts.services import normalize_email
from membership.donations.models import ANONYMIZED_DOMAIN, Checkout, Donation, Donor, RecurringGift
from membership.extensions import db
from membership.sql import upsert_insert
from membership.types import utcnow


def get_or_create_donor(email: str, name: str = "", customer_id: str | None = None) -> Donor:
    """The donor for this e-mail, created if new, in one statement that is safe against
    concurrent creation (every recorded gift passes here).

    A new donor whose address a reader has already verified joins that account at once;
    later verifications link through `link_donor_to_account`."""
    statement = _donor_upsert(db.session.get_bind().dialect.name)
    donor = db.session.scalars(statement, {
        "donor_email": normalize_email(email), "donor_name": name.strip(),
        "customer": customer_id, "now": utcnow(),
    }, execution_options={"populate_existing": True}).one()
    if name.strip() and not donor.name:
        donor.name = name.strip()
    return donor


@cache
def _donor_upsert(dialect: str):
    """INSERT … ON CONFLICT (email) DO UPDATE … RETURNING: the update rewrites the e-mail
    with itself, so an existing donor is returned unchanged."""
    upsert = upsert_insert(dialect)
    verified_owner = select(User.id).where(
        User.email == bindparam("donor_email"), User.email_verified_at.is_not(None)
    ).scalar_subquery()
    statement = upsert(Donor).values(
        email=bindparam("donor_email"), name=bindparam("donor_name"), user_id=verified_owner,
        stripe_customer_id=bindparam("customer"), created_at=bindparam("now"))
    return statement.on_conflict_do_update(
        index_elements=["email"], set_={"email": statement.excluded.email},
    ).returning(Donor)


def link_donor_to_account(user: User) -> None:
    """Gifts given as a guest with this (now verified) address join the account."""
    donor = db.session.scalar(select(Donor).where(Donor.email == user.email))
    if donor is not None and donor.user_id is None:
        donor.user_id = user.id
        db.session.flush()


def anonymize_donor_records(user: User) -> None:
    """Keep gifts for the books, without the person: runs when an account is deleted.
    Only the donor records the account proved it owns (linked when it verified the
    address): an unverified sign-up with a guest donor's address erases nothing of theirs."""
    donors = db.session.scalars(select(Donor).where(Donor.user_id == user.id)).all()
    for donor in donors:
        donor.email = f"deleted-donor-{donor.id}@{ANONYMIZED_DOMAIN}"
        donor.name = ""
        donor.user_id = None
        for model in (Donation, RecurringGift, Checkout):
            for record in db.session.scalars(select(model).where(model.donor_id == donor.id)):
                record.dedication_name = None
                record.dedication_message = None
                if model is RecurringGift:
                    record.manage_version += 1  # the links in earlier mails stop working
    db.session.flush()

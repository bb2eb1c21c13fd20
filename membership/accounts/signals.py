"""Moments other domains hook into without accounts importing them.

`account_closing(user)`: sent before the deletion transaction, once the password is right;
a receiver stops what must not outlive the account at an outside service (a recurring
gift at Stripe) and returns what it stopped, as sentences for the reader, or raises
`AccountError` to keep the account (nothing is deleted then).
`account_deleting(user)`: sent inside the deletion transaction, before the row goes; a
receiver anonymizes or removes what its domain keeps about the reader.
`account_exporting(user)`: receivers return `(section_name, json_ready_data)` for the
reader's data download.
`email_verified(user)`: the reader proved they own `user.email` (e.g. to claim guest gifts).
"""

from blinker import Namespace

_signals = Namespace()

account_closing = _signals.signal("account-closing")
account_deleting = _signals.signal("account-deleting")
account_exporting = _signals.signal("account-exporting")
email_verified = _signals.signal("email-verified")

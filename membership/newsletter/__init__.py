"""The daily news e-mail: subscriptions with recorded consent, double opt-in and
one-click unsubscribe."""

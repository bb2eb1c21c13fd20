"""Stripe's door: the gateways, the webhook endpoint and the event handlers.

The only package that imports `stripe`. It translates Stripe's objects into the plain
facts the `membership.donations` modules record."""

"""Outgoing e-mail: rendered from templates, kept in an outbox, delivered by SMTP."""

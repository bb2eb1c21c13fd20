"""Reader accounts: sign-up, log-in, e-mail verification, password reset, self-service."""

"""The public front: home page and health check."""

"""Staff pages. Reads every domain; no domain imports it."""

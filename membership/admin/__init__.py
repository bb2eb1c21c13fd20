"""Staff pages. Reads every domain; no domain imports it.

Each staff area registers its views on one blueprint (`blueprint.bp`), behind the same
guard; importing the package registers them all."""

from membership.admin import analytics, campaigns, dashboard, people, routes, topics
from membership.admin.blueprint import bp

__all__ = ["analytics", "bp", "campaigns", "dashboard", "people", "routes", "topics"]

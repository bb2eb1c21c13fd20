"""Reporting: the figures fundraisers read, computed from the donations (retention, the
lapsed-donor lists) and the exports they download. The staff admin only renders them."""

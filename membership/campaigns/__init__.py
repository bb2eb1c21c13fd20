"""Fundraising campaigns: an appeal with a goal, dates, a sponsor match and live progress."""

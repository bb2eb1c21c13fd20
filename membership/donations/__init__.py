"""Gifts: the donate form, donors, one-time and recurring gifts, receipts."""

"""Benefit catalogue, entitlements, bookings, assistance (to be built)."""

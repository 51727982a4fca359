"""Partner merchants, API keys, coupons and redemptions (to be built)."""

"""Partner merchants: the redemption API and the merchant portal (uses crm's database layer)."""

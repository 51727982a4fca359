"""workspace: reactions to domain events (to be built), subscribed with crm.events.subscribe
at import, as in the other features (crm.workspace imports this module)."""

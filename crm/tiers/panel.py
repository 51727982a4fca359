def customer_panel(session, user, customer):
    return None

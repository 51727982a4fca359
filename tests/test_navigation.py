"""The navigation: a menu per area, and for every role only links to pages it may open (the
menu reads each view's own role check, so the two cannot drift apart)."""

from __future__ import annotations

import re

from crm.validators import ROLES

NAV_LINK = re.compile(r'class="dropdown-item[^"]*" href="([^"]+)" data-endpoint="([^"]+)"')
MENU = re.compile(r'data-menu="([a-z]+)"')


def test_every_link_of_every_roles_menu_opens(client, auth, make_user, database):
    from partners import services
    from tests.partners_helpers import ACTOR, make_partner

    users = {role: make_user(role)[1] for role in ROLES}
    partner, _key = make_partner(database)
    with database.transaction() as session:  # a cashier works for a partner
        services.link_cashier(session, ACTOR, partner, users["partner_cashier"])
    seen = {}
    for role in ROLES:
        auth.login(users[role])
        html = client.get("/account/password").get_data(as_text=True)
        links = NAV_LINK.findall(html)
        assert links, role
        for href, _endpoint in links:
            assert client.get(href).status_code == 200, (role, href)
        seen[role] = ({endpoint for _href, endpoint in links}, MENU.findall(html))
        auth.logout()
    assert "benefits.bookings" not in seen["underwriter"][0]  # no health bookings for underwriters
    assert "benefits.bookings" in seen["account_manager"][0]
    assert "workspace.today_page" in seen["account_manager"][0]
    assert seen["admin"][1] == ["customers", "queues", "tiers", "vip", "partners", "reports", "admin"]
    assert seen["partner_cashier"][1] == ["partners"]


def test_the_user_menu_names_the_user_and_holds_language_and_log_out(client, login_as):
    login_as("risk_officer", full_name="风控张")
    html = client.get("/dashboard").get_data(as_text=True)
    menu = html[html.index('id="user-menu"') : html.index("</nav>")]
    assert "风控张" in menu and 'id="my-account" href="/account/password"' in menu
    assert 'data-locale="zh"' in menu and 'id="logout"' in menu

"""Navigation for the signed-in user's role."""
from django.urls import NoReverseMatch, reverse

from accounts import permissions

NAV = {
    "staff": [
        ("Home", "agency_home", None),
        ("Worklist", "worklist_home", None),
        ("Clients", "client_list", None),
        ("Accounts", "debtor_account_list", None),
        ("Placements", "placement_list", None),
        ("Letters", "print_batch_list", None),
        ("Outbox", "outbox", None),
        ("Intake", "intake_summary", permissions.MANAGERS),
        ("Queues", "worklist_manage", permissions.MANAGERS),
        ("Team", "team_list", permissions.MANAGERS),
        ("Payments", "payments_journal", permissions.MANAGERS),
        ("Trust ledger", "ledger_overview", permissions.AGENCY_ADMINS),
        ("Statements", "statement_list", permissions.MANAGERS),
        ("Audit log", "audit_log", permissions.AGENCY_ADMINS),
        ("Settings", "agency_settings", permissions.AGENCY_ADMINS),
    ],
    "client": [
        ("Home", "client_home", None),
        ("Accounts", "debtor_account_list", None),
        ("Placements", "placement_list", None),
        ("Offers", "client_offers", None),
        ("Payments", "client_payments", None),
        ("Statements", "statement_list", None),
        ("Contract terms", "client_terms", None),
        ("Team", "client_team", None),
        ("API keys", "api_keys", permissions.CLIENT_ADMINS),
    ],
}


def membership(request):
    member = getattr(request, "membership", None)
    if member is None:
        return {"membership": None, "nav_items": []}
    section = "staff" if member.is_staff_role else "client"
    items = []
    for label, url_name, roles in NAV[section]:
        if roles is None or member.role in roles:
            try:
                url = reverse(url_name)
            except NoReverseMatch:  # an app whose pages are not installed
                continue
            items.append({"label": label, "url": url, "active": False})
    # The item whose address is the longest start of this page's (Queues beats Worklist on
    # /worklist/manage/); the home item only on the home page itself.
    home = reverse(NAV[section][0][1])
    # A page shared by two sections (a payment file on the intake pages) may name its own section.
    path = getattr(request, "nav_path", request.path)
    matches = [item for item in items if path == item["url"]
               or (item["url"] != home and path.startswith(item["url"]))]
    if matches:
        max(matches, key=lambda item: len(item["url"]))["active"] = True
    return {"membership": member, "nav_items": items}

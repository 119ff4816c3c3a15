"""Data tables for the sample generator: tenants, places, people, devices, products.

Everything here is invented or public reference data: the companies are fictional, the
people are random combinations of common given and family names, the e-mail domains
are ``*.example``, and the network addresses come from the documentation ranges of
RFC 5737 (``192.0.2.0/24``, ``198.51.100.0/24``, ``203.0.113.0/24``) and RFC 3849
(``2001:db8::/32``). City coordinates are the public coordinates of the city centres.
"""

from __future__ import annotations

from typing import Final, NamedTuple


class City(NamedTuple):
    """A place an actor can be in, with a fixed UTC offset (winter time)."""

    name: str
    country: str
    lat: float
    lon: float
    utc_offset: int


CITIES: Final[dict[str, City]] = {
    c.name: c
    for c in (
        City("Berlin", "DE", 52.52, 13.405, 1),
        City("Munich", "DE", 48.137, 11.575, 1),
        City("Hamburg", "DE", 53.551, 9.994, 1),
        City("Frankfurt", "DE", 50.11, 8.682, 1),
        City("London", "GB", 51.507, -0.128, 0),
        City("Manchester", "GB", 53.481, -2.242, 0),
        City("Dublin", "IE", 53.35, -6.26, 0),
        City("Lisbon", "PT", 38.722, -9.139, 0),
        City("Amsterdam", "NL", 52.368, 4.904, 1),
        City("Paris", "FR", 48.857, 2.352, 1),
        City("Lyon", "FR", 45.764, 4.836, 1),
        City("Madrid", "ES", 40.417, -3.704, 1),
        City("Barcelona", "ES", 41.385, 2.173, 1),
        City("Milan", "IT", 45.464, 9.19, 1),
        City("Zurich", "CH", 47.377, 8.541, 1),
        City("Vienna", "AT", 48.208, 16.373, 1),
        City("Stockholm", "SE", 59.329, 18.069, 1),
        City("Warsaw", "PL", 52.23, 21.012, 1),
        City("New York", "US", 40.713, -74.006, -5),
        City("Boston", "US", 42.36, -71.059, -5),
        City("Chicago", "US", 41.878, -87.63, -6),
        City("Austin", "US", 30.267, -97.743, -6),
        City("Toronto", "CA", 43.653, -79.383, -5),
        City("Ashburn", "US", 39.044, -77.488, -5),
        City("San Francisco", "US", 37.775, -122.419, -8),
        City("Seattle", "US", 47.606, -122.332, -8),
        City("Sydney", "AU", -33.869, 151.209, 11),
        City("Melbourne", "AU", -37.814, 144.963, 11),
        City("Singapore", "SG", 1.352, 103.82, 8),
        City("Tokyo", "JP", 35.676, 139.65, 9),
        City("Sao Paulo", "BR", -23.551, -46.633, -3),
        City("Johannesburg", "ZA", -26.204, 28.047, 2),
        City("Bucharest", "RO", 44.426, 26.103, 2),
        City("Jakarta", "ID", -6.208, 106.846, 7),
        City("Lagos", "NG", 6.524, 3.379, 1),
        City("Mumbai", "IN", 19.076, 72.878, 5),
    )
}


class TenantSpec(NamedTuple):
    """A fictional customer organisation of the SaaS product."""

    tenant_id: str
    region: str
    region_city: str
    cities: tuple[str, ...]
    sso_share: float


TENANTS: Final[tuple[TenantSpec, ...]] = (
    TenantSpec(
        "acme",
        "eu-west-1",
        "Dublin",
        ("Berlin", "Berlin", "Berlin", "London", "London", "Dublin", "Amsterdam", "Munich"),
        0.85,
    ),
    TenantSpec(
        "globex",
        "us-east-1",
        "Ashburn",
        ("New York", "New York", "Boston", "Chicago", "Toronto", "Berlin", "Austin"),
        0.2,
    ),
    TenantSpec(
        "initech",
        "eu-central-1",
        "Frankfurt",
        ("Paris", "Paris", "Lyon", "Madrid", "Barcelona", "London", "Milan"),
        0.0,
    ),
    TenantSpec("umbrella", "ap-southeast-2", "Sydney", ("Sydney", "Melbourne", "Singapore"), 0.5),
    TenantSpec("hooli", "us-west-2", "Seattle", ("San Francisco", "Seattle", "Austin"), 1.0),
    TenantSpec("vandelay", "eu-north-1", "Stockholm", ("Stockholm", "Warsaw", "Vienna"), 0.3),
    TenantSpec("cyberdyne", "us-east-2", "Chicago", ("Chicago", "Boston", "Toronto"), 0.6),
    TenantSpec("tyrell", "ap-northeast-1", "Tokyo", ("Tokyo", "Singapore", "Sydney"), 0.4),
)
"""Tenants in order; the first is the biggest. More tenants reuse these places."""

# Relative tenant sizes: acme big, globex medium, initech small, then a long tail.
TENANT_WEIGHTS: Final[tuple[float, ...]] = (0.5, 0.3, 0.2, 0.16, 0.13, 0.1, 0.08, 0.07)

FIRST_NAMES: Final[tuple[str, ...]] = (
    "Amara", "Ben", "Carla", "Dario", "Elif", "Finn", "Greta", "Hugo", "Ines", "Jonas",
    "Kai", "Lena", "Marco", "Nadia", "Omar", "Paula", "Quentin", "Rosa", "Sami", "Tara",
    "Uma", "Victor", "Wren", "Ximena", "Yusuf", "Zoe", "Aiko", "Bruno", "Chloe", "Dmitri",
    "Emeka", "Farah", "Gustav", "Hana", "Ivan", "Julia", "Kofi", "Lucia", "Mateo", "Nora",
    "Oskar", "Priya", "Rafael", "Sofia", "Tomas", "Ulla", "Vera", "Wei", "Yara", "Zeynep",
    "Anil", "Bea", "Cyrus", "Daria", "Eamon", "Fiona", "Goran", "Helga", "Isak", "Jana",
)  # fmt: skip

LAST_NAMES: Final[tuple[str, ...]] = (
    "Abara", "Brandt", "Costa", "Dahl", "Eriksen", "Fischer", "Garcia", "Hansen", "Ito",
    "Jansen", "Kowalski", "Larsen", "Moreau", "Novak", "Okafor", "Petrov", "Quinn", "Rossi",
    "Schmidt", "Tanaka", "Ueda", "Vargas", "Weber", "Yilmaz", "Zimmer", "Alves", "Becker",
    "Chen", "Dubois", "Evans", "Ferreira", "Gruber", "Haddad", "Iyer", "Kaya", "Lindqvist",
    "Meyer", "Nguyen", "Olsen", "Park", "Reyes", "Silva", "Torres", "Urban", "Vogel",
    "Walsh", "Young", "Ziegler", "Mensah", "Kim",
)  # fmt: skip

JOB_TITLES: Final[tuple[str, ...]] = (
    "Engineer", "Senior Engineer", "Product Manager", "Designer", "Accountant",
    "Account Executive", "Support Specialist", "Data Analyst", "Team Lead", "Consultant",
)  # fmt: skip

DEPARTMENTS: Final[tuple[str, ...]] = (
    "Engineering", "Finance", "Sales", "Support", "Marketing", "Operations", "Legal",
)  # fmt: skip

DESKTOP_AGENTS: Final[tuple[str, ...]] = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
)

MOBILE_AGENTS: Final[tuple[str, ...]] = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 15; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
    "ExampleApp/5.12.0 (iOS 18.1; iPhone15,2)",
    "ExampleApp/5.12.0 (Android 14; SM-S911B)",
)

ATTACK_AGENTS: Final[tuple[str, ...]] = (
    "python-requests/2.32.3",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/118.0.0.0 Safari/537.36",
    "curl/8.5.0",
)


class ServiceSpec(NamedTuple):
    """A machine principal: a service account or an API key, and what it does."""

    slug: str
    name: str
    kind: str  # "service" or "api_key"
    user_agent: str
    actions: tuple[tuple[str, str, float], ...]  # (entity type, verb, weight)


SERVICES: Final[tuple[ServiceSpec, ...]] = (
    ServiceSpec(
        "billing-sync",
        "Billing sync",
        "service",
        "billing-sync/2.3.1 python-httpx/0.27.2",
        (("invoice", "create", 3), ("invoice", "update", 4), ("customer", "read", 3)),
    ),
    ServiceSpec(
        "crm-import",
        "CRM import",
        "service",
        "crm-import/1.8.0 Go-http-client/2.0",
        (("customer", "create", 2), ("customer", "update", 5), ("customer", "read", 3)),
    ),
    ServiceSpec(
        "search-indexer",
        "Search indexer",
        "service",
        "search-indexer/0.14.2 (+https://status.example.com/bot)",
        (("document", "read", 6), ("project", "read", 3)),
    ),
    ServiceSpec(
        "report-scheduler",
        "Report scheduler",
        "service",
        "report-scheduler/3.0.4 python-httpx/0.27.2",
        (("report", "read", 2), ("report", "update", 1)),
    ),
)

API_KEYS: Final[tuple[ServiceSpec, ...]] = (
    ServiceSpec(
        "ci-reports",
        "CI reporting key",
        "api_key",
        "Terraform/1.9.8",
        (("report", "read", 3), ("project", "read", 2), ("project", "update", 1)),
    ),
    ServiceSpec(
        "bi-connector",
        "BI connector key",
        "api_key",
        "bi-connector/4.2 (example-analytics)",
        (("invoice", "read", 3), ("customer", "read", 3), ("report", "read", 2)),
    ),
    ServiceSpec(
        "zap-automation",
        "Automation key",
        "api_key",
        "automation-runner/2.1.0 node-fetch/3.3.2",
        (("project", "update", 2), ("document", "create", 1), ("document", "read", 2)),
    ),
)

SERVICE_AGENT_SDK: Final = "auditkit-sample-sdk/1.0.0 python/3.11"

ENTITY_PREFIX: Final[dict[str, str]] = {
    "document": "doc",
    "project": "prj",
    "invoice": "inv",
    "report": "rpt",
    "customer": "cus",
}

DOCUMENT_NAMES: Final[tuple[str, ...]] = (
    "Q{q} plan", "Roadmap {y}", "Onboarding guide", "Security policy", "Pricing proposal",
    "Architecture overview", "Incident review {n}", "Board deck Q{q}", "Hiring plan",
    "Vendor contract {n}", "Meeting notes {n}", "Release notes {n}", "Budget {y}",
    "Customer FAQ", "Data retention policy", "Travel policy", "Brand guidelines",
    "Runbook: payments", "Sales playbook", "OKRs Q{q}",
)  # fmt: skip

PROJECT_NAMES: Final[tuple[str, ...]] = (
    "Apollo", "Borealis", "Cobalt", "Delta", "Ember", "Fjord", "Granite", "Helix", "Indigo",
    "Juniper", "Kestrel", "Lumen", "Meridian", "Nimbus", "Orchid", "Pioneer", "Quartz",
    "Riverbend", "Summit", "Tundra",
)  # fmt: skip

REPORT_NAMES: Final[tuple[str, ...]] = (
    "Monthly revenue", "Churn by segment", "Usage by team", "Open invoices", "Pipeline",
    "Support backlog", "Active users", "Cost by project", "Renewals due", "Audit summary",
)  # fmt: skip

CUSTOMER_WORDS: Final[tuple[tuple[str, ...], tuple[str, ...]]] = (
    ("Blue", "North", "Bright", "Silver", "Maple", "Harbor", "Cedar", "Golden", "Summit",
     "Red", "Clear", "Green", "Swift", "Iron", "Lake"),
    ("Logistics", "Bakery", "Labs", "Health", "Foods", "Motors", "Studios", "Analytics",
     "Outfitters", "Energy", "Dental", "Freight", "Media", "Robotics", "Textiles"),
)  # fmt: skip

# (field, successive values): an update moves a field from one value to the next.
FIELD_CHANGES: Final[dict[str, tuple[tuple[str, tuple[object, ...]], ...]]] = {
    "document": (
        ("status", ("draft", "in_review", "approved", "published")),
        ("classification", ("internal", "confidential", "restricted")),
        ("owner_team", ("Engineering", "Finance", "Sales", "Legal")),
    ),
    "project": (
        ("status", ("planned", "active", "on_hold", "active", "done")),
        ("priority", ("low", "medium", "high")),
        ("due_date", ("2026-03-31", "2026-04-30", "2026-06-30")),
    ),
    "invoice": (
        ("status", ("draft", "sent", "paid")),
        ("amount_eur", (1200, 1350, 4800, 5100, 9900)),
        ("due_in_days", (14, 30, 45)),
    ),
    "report": (
        ("schedule", ("none", "weekly", "monthly")),
        ("visibility", ("private", "team", "organisation")),
    ),
    "customer": (
        ("tier", ("free", "standard", "premium", "enterprise")),
        ("account_manager", ("u-sales-1", "u-sales-2", "u-sales-3")),
        ("country", ("DE", "FR", "GB", "US")),
    ),
}

SETTINGS_CHANGES: Final[tuple[tuple[str, tuple[object, ...]], ...]] = (
    ("session_timeout_minutes", (30, 60, 120, 30)),
    ("password_min_length", (10, 12, 14)),
    ("default_role", ("viewer", "member", "viewer")),
    ("allow_public_links", (True, False, True)),
    ("ip_allowlist_enabled", (False, True)),
    ("data_export_enabled", (True, False, True)),
)

POLICIES: Final[tuple[tuple[str, str, str, tuple[object, ...]], ...]] = (
    ("pol-password", "Password policy", "max_age_days", (90, 180, 365)),
    ("pol-session", "Session policy", "idle_timeout_minutes", (15, 30, 60)),
    ("pol-sharing", "External sharing policy", "external_sharing", ("blocked", "approved_domains")),
    ("pol-dlp", "Data loss prevention", "mode", ("monitor", "block")),
    ("pol-mfa", "MFA policy", "required_for", ("admins", "everyone")),
)

INTEGRATIONS: Final[tuple[tuple[str, str], ...]] = (
    ("int-chat", "Chat notifications"),
    ("int-tracker", "Issue tracker sync"),
    ("int-crm", "CRM connector"),
    ("int-siem", "SIEM forwarder"),
    ("int-dwh", "Data warehouse export"),
    ("int-sign", "E-signature"),
)

TEAMS: Final[tuple[str, ...]] = (
    "Platform", "Finance", "Sales EMEA", "Sales NA", "Support", "Design", "Data", "Legal",
)  # fmt: skip

PERMISSIONS: Final[tuple[str, ...]] = (
    "invoices:approve", "reports:share", "customers:export", "projects:admin",
    "documents:publish",
)  # fmt: skip

GRANTABLE_ROLES: Final[tuple[str, ...]] = ("member", "viewer", "auditor", "member", "admin")

LOGIN_FAILURE_REASONS: Final[tuple[str, ...]] = (
    "invalid_password", "invalid_password", "invalid_password", "unknown_user",
    "mfa_timeout", "account_locked",
)  # fmt: skip

ERROR_CODES: Final[tuple[str, ...]] = ("upstream_timeout", "storage_unavailable", "internal")

EXPORT_FORMATS: Final[tuple[str, ...]] = ("pdf", "csv", "xlsx", "csv")

SHARE_WITH: Final[tuple[str, ...]] = (
    "team:finance", "team:sales", "partner@northwind.example", "team:legal",
    "contractor@studio.example", "team:platform",
)  # fmt: skip

SCHEDULED_JOBS: Final[tuple[tuple[str, int, int], ...]] = (
    ("nightly-backup", 1, 5),  # (name, UTC hour, minute)
    ("usage-rollup", 0, 15),
    ("search-reindex", 3, 30),
)

# Observed services: (name, major, minor at day 0, release every N days).
OBSERVERS: Final[dict[str, tuple[int, int, int]]] = {
    "webapp": (4, 2, 14),
    "api": (2, 9, 21),
    "admin-console": (1, 7, 30),
    "scheduler": (0, 12, 45),
}

# Local-hour profile of interactive sessions (weights for hours 0..23).
WEEKDAY_HOURS: Final[tuple[float, ...]] = (
    0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.6, 2.0, 6.0, 10.0, 11.0, 10.0,
    7.0, 9.0, 10.0, 9.5, 8.0, 5.0, 2.5, 1.5, 1.2, 1.0, 0.6, 0.3,
)  # fmt: skip
WEEKEND_HOURS: Final[tuple[float, ...]] = (
    0.2, 0.1, 0.08, 0.08, 0.08, 0.1, 0.2, 0.4, 0.8, 1.4, 1.8, 2.0,
    1.8, 1.6, 1.6, 1.6, 1.5, 1.4, 1.3, 1.3, 1.2, 1.0, 0.7, 0.4,
)  # fmt: skip

# Relative daily volume by ISO weekday (Monday = 0).
WEEKDAY_FACTORS: Final[tuple[float, ...]] = (0.95, 1.05, 1.05, 1.0, 0.85, 0.14, 0.1)

# Weights of the entity types that interactive users work on.
ENTITY_WEIGHTS: Final[dict[str, float]] = {
    "document": 35,
    "project": 20,
    "customer": 15,
    "invoice": 15,
    "report": 15,
}
AUDITOR_ENTITY_WEIGHTS: Final[dict[str, float]] = {
    "report": 50,
    "invoice": 20,
    "document": 20,
    "customer": 10,
}

# What each role does in a session, as (action key, weight). An action key is either a
# verb on a product entity ("@read") or a core action name handled by the traffic module.
_MEMBER_VERBS: Final = (
    ("@read", 45.0), ("@update", 16.0), ("@create", 10.0), ("@download", 8.0),
    ("@share", 5.0), ("@export", 3.0), ("@delete", 2.5),
)  # fmt: skip
_SELF_SERVICE: Final = (("password.change", 0.25), ("mfa.reset", 0.06), ("user.update", 0.1))
_ADMIN_ACTIONS: Final = (
    ("role.grant", 1.2), ("role.revoke", 0.5), ("permission.grant", 0.6),
    ("permission.revoke", 0.25), ("settings.update", 1.0), ("policy.update", 0.5),
    ("integration.add", 0.25), ("integration.remove", 0.1), ("api_key.create", 0.25),
    ("api_key.revoke", 0.2), ("sso.update", 0.05), ("audit_destination.add", 0.03),
    ("audit_retention.update", 0.02), ("user.invite", 1.5), ("user.create", 0.5),
    ("user.update", 1.0), ("user.suspend", 0.15), ("user.delete", 0.05), ("team.create", 0.15),
    ("team_member.add", 1.0), ("team_member.remove", 0.4), ("password.reset", 0.3),
    ("mfa.disable", 0.02),
)  # fmt: skip

ROLE_MIX: Final[dict[str, tuple[tuple[str, float], ...]]] = {
    # Members now and then try an admin page (and are denied).
    "member": (
        *_MEMBER_VERBS,
        *_SELF_SERVICE,
        ("settings.update", 0.05),
        ("integration.add", 0.03),
    ),
    "viewer": (
        ("@read", 70.0),
        ("@download", 14.0),
        ("@export", 2.0),
        ("@update", 2.0),
        ("@share", 1.0),
        *_SELF_SERVICE,
    ),
    "auditor": (("@read", 55.0), ("@export", 12.0), ("@download", 10.0), *_SELF_SERVICE),
    "admin": tuple((k, w * 0.8) for k, w in _MEMBER_VERBS) + _SELF_SERVICE + _ADMIN_ACTIONS,
    "owner": tuple((k, w * 0.6) for k, w in _MEMBER_VERBS)
    + _SELF_SERVICE
    + tuple((k, w * 1.5) for k, w in _ADMIN_ACTIONS),
}

# Share of each role among a tenant's people (the first person is always an owner).
ROLE_SHARES: Final[tuple[tuple[str, float], ...]] = (
    ("owner", 0.02),
    ("admin", 0.08),
    ("member", 0.6),
    ("viewer", 0.24),
    ("auditor", 0.06),
)

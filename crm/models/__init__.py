"""crm's models, imported here so that Alembic and the app see one metadata. partners registers
its own tables on the same Base (partners/models.py); migrations/env.py imports them, and the
app factory gets them with the partners feature (crm.features)."""

import crm.imports.models  # noqa: F401,E402
import crm.models.benefits  # noqa: F401,E402
import crm.models.digests  # noqa: F401,E402
import crm.models.lists  # noqa: F401,E402
import crm.models.review  # noqa: F401,E402
import crm.models.workspace  # noqa: F401,E402
from crm.models.audit import AuditEvent, AuditHead  # noqa: F401
from crm.models.customers import Claim, Customer, ImportBatch, InitialLoadApproval, InitialLoadClosure, Policy  # noqa: F401
from crm.models.tiers import (  # noqa: F401
    CustomerTier,
    RiskModelRecord,
    TierHistory,
    TierMoveBatch,
    TierOverride,
    TierPolicyVersion,
    TierRun,
)
from crm.models.users import LoginThrottle, User, UserSession  # noqa: F401

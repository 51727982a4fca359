"""The tier policy in force: the newest version in the database, else a file, else the defaults."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm.models import TierPolicyVersion
from segmentation.policy import TierPolicy


def current_policy(session: Session, policy_file: str | None = None) -> TierPolicy:
    """The policy a run uses now. Raises ValueError when the file is invalid."""
    row = session.scalar(select(TierPolicyVersion).order_by(TierPolicyVersion.id.desc()).limit(1))
    if row is not None:
        return TierPolicy.from_dict({**json.loads(row.settings), "version": row.version})
    if policy_file:
        text = Path(policy_file).read_text(encoding="utf-8")
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        return TierPolicy.from_dict({**json.loads(text), "version": f"file-{digest}"})
    return TierPolicy()


def save_policy(session: Session, actor: audit.Actor, settings: dict, note: str = "") -> TierPolicy:
    """Validate and store a new version (never edits an old one); audited. Raises ValueError."""
    previous = current_policy(session)
    count = len(session.scalars(select(TierPolicyVersion.id)).all())
    version = f"v{count + 1}"
    settings = {k: v for k, v in settings.items() if k != "version"}
    policy = TierPolicy.from_dict({**settings, "version": version})
    stored = {k: v for k, v in policy.to_dict().items() if k != "version"}
    session.add(
        TierPolicyVersion(
            version=version, settings=json.dumps(stored, sort_keys=True), note=note, created_by=actor.label
        )
    )
    session.flush()
    audit.record(
        session,
        actor,
        audit.Change("tier_policy.version", "tier_policy", version, previous.to_dict(), policy.to_dict()),
    )
    return policy

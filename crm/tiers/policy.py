"""The tier policy in force: the newest version in the database, else a file, else the defaults.

A draft (settings not yet saved, written by ``write_draft`` for a dry run, to a file named
``draft-…``) wins over all of them: a preview run given a draft's file computes with the
draft, whatever is stored. The configured file is read only when nothing is stored, as before.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm.models import TierPolicyVersion
from segmentation.policy import TierPolicy

DRAFT_PREFIX = "draft-"  # the version of a draft's file (and so of the preview run made with it)


def current_policy(session: Session, policy_file: str | None = None) -> TierPolicy:
    """The policy a run uses now. Raises ValueError when the file is invalid."""
    if policy_file and Path(policy_file).name.startswith(DRAFT_PREFIX):
        return _read_file(policy_file)
    row = session.scalar(select(TierPolicyVersion).order_by(TierPolicyVersion.id.desc()).limit(1))
    if row is not None:
        return TierPolicy.from_dict({**json.loads(row.settings), "version": row.version})
    return _read_file(policy_file) if policy_file else TierPolicy()


def _read_file(policy_file: str) -> TierPolicy:
    text = Path(policy_file).read_text(encoding="utf-8")
    settings = json.loads(text)
    if isinstance(settings, dict) and str(settings.get("version", "")).startswith(DRAFT_PREFIX):
        return TierPolicy.from_dict(settings)
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return TierPolicy.from_dict({**settings, "version": f"file-{digest}"})


def draft_policy(settings: dict) -> TierPolicy:
    """Unsaved settings as a policy whose version names them (``draft-`` and a digest).
    Raises ValueError as TierPolicy does."""
    settings = {k: v for k, v in settings.items() if k != "version"}
    checked = TierPolicy.from_dict(settings).to_dict()
    del checked["version"]
    digest = hashlib.sha256(json.dumps(checked, sort_keys=True).encode()).hexdigest()[:8]
    return TierPolicy.from_dict({**checked, "version": DRAFT_PREFIX + digest})


def write_draft(policy: TierPolicy, directory: Path) -> Path:
    """``policy`` (a draft_policy) as a file a run can be given (RunRequest.policy_file)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{policy.version}.json"
    path.write_text(json.dumps(policy.to_dict(), sort_keys=True), encoding="utf-8")
    return path


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

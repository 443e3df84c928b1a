"""The tamper-evident audit trail: hash chain over commitments, redaction, an in-memory log
(docs/audit.md); retention and purging are in :mod:`sso_bridge.audit.retention`.

``AuditEvent`` and ``AuditAction`` live in :mod:`sso_bridge.model`, the ``AuditLog`` port
in :mod:`sso_bridge.audit.ports`; both are re-exported here. The SQL implementation is
:class:`sso_bridge.store.sql.SqlStore`.
"""

from sso_bridge.audit.chain import (
    GENESIS,
    MISMATCH,
    ChainReport,
    canonical,
    chain_genesis,
    chain_hash,
    iter_events,
    verify_chain,
)
from sso_bridge.audit.commit import CommitmentKey
from sso_bridge.audit.errors import ChainBroken
from sso_bridge.audit.memory import InMemoryAuditLog
from sso_bridge.audit.ports import AuditLog, PurgeableLog
from sso_bridge.audit.redact import MASK, prepare, redact
from sso_bridge.audit.roots import AuditRoot
from sso_bridge.audit.trail import ChainedTrail, Problem, RootAnchor, TrailReport, verify_log
from sso_bridge.model import AuditAction, AuditEvent

__all__ = [
    "GENESIS",
    "MASK",
    "MISMATCH",
    "AuditAction",
    "AuditEvent",
    "AuditLog",
    "AuditRoot",
    "ChainBroken",
    "ChainReport",
    "ChainedTrail",
    "CommitmentKey",
    "InMemoryAuditLog",
    "Problem",
    "PurgeableLog",
    "RootAnchor",
    "TrailReport",
    "canonical",
    "chain_genesis",
    "chain_hash",
    "iter_events",
    "prepare",
    "redact",
    "verify_chain",
    "verify_log",
]

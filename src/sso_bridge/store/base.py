"""Deprecated location of the storage ports, kept for one release.

Each port moved beside the part that uses it; :mod:`sso_bridge.store` only implements
them. This module re-exports them from their new homes:

- ``AccountDirectory`` → :mod:`sso_bridge.matching.ports` (the reads; loading accounts,
  ``bulk_import`` and ``import_accounts``, is now the importer's ``ImportTarget``);
- ``ImportTarget``, ``BulkImport``, ``AccountRow``, ``ACCOUNT_ROW_COLUMNS``,
  ``account_row``, ``ProgressCallback`` → :mod:`sso_bridge.importing.ports`;
- ``LinkStore`` → :mod:`sso_bridge.linking.ports`;
- ``AuditLog`` → :mod:`sso_bridge.audit.ports`;
- ``EphemeralStore`` (formerly :mod:`sso_bridge.store.ephemeral`) → :mod:`sso_bridge.ephemeral`.
"""

from sso_bridge.audit.ports import AuditLog
from sso_bridge.importing.ports import (
    ACCOUNT_ROW_COLUMNS,
    AccountRow,
    BulkImport,
    ImportTarget,
    ProgressCallback,
    account_row,
)
from sso_bridge.linking.ports import LinkStore
from sso_bridge.matching.ports import AccountDirectory

__all__ = [
    "ACCOUNT_ROW_COLUMNS",
    "AccountDirectory",
    "AccountRow",
    "AuditLog",
    "BulkImport",
    "ImportTarget",
    "LinkStore",
    "ProgressCallback",
    "account_row",
]

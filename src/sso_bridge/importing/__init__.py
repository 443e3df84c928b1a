"""Bulk import of local accounts from CSV.

The file has a header row naming the columns of :data:`COLUMNS`, in any order. A file is
imported whole or not at all: any bad row rejects the file, unless ``skip_invalid`` is
set, in which case the good rows are imported and the bad ones reported.

The file is cut into blocks at record boundaries (:mod:`.csvfile`). Blocks are checked,
normalised and hashed in worker processes (:mod:`.check`) while this process writes the
rows, all inside one transaction of the store; the rules that span the whole file (an
account id given twice, an organisation named two ways, an organisation that is never
named) are applied here (:mod:`.merge`). :mod:`.run` drives it; :mod:`.ports` is the
port of the store the rows go to.
"""

from sso_bridge.importing.csvfile import BLOCK_BYTES, COLUMNS, MAX_LENGTHS
from sso_bridge.importing.merge import ImportReport
from sso_bridge.importing.ports import (
    ACCOUNT_ROW_COLUMNS,
    AccountRow,
    BulkImport,
    ImportTarget,
    ProgressCallback,
    account_row,
)
from sso_bridge.importing.run import (
    MAX_WORKERS,
    PARALLEL_MIN_BYTES,
    import_accounts_csv,
    import_accounts_files,
)

__all__ = [
    "ACCOUNT_ROW_COLUMNS",
    "BLOCK_BYTES",
    "COLUMNS",
    "MAX_LENGTHS",
    "MAX_WORKERS",
    "PARALLEL_MIN_BYTES",
    "AccountRow",
    "BulkImport",
    "ImportReport",
    "ImportTarget",
    "ProgressCallback",
    "account_row",
    "import_accounts_csv",
    "import_accounts_files",
]

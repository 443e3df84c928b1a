"""Root records: one hash over the heads of every chain of the trail, chained in turn.

A trail with several chains could lose a whole chain, or the newest records of one,
without any chain failing on its own. A root names the head record of every chain at the
time it was written and carries the Merkle root over those heads' hashes; roots are
chained to each other like records are. Verification checks that each chain still holds
the heads that the newest root names, so a chain cut before that root is found; keeping
the newest root's hash elsewhere covers the rest (docs/audit.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import attrs

from sso_bridge.audit.chain import CHAIN_FORMAT

__all__ = ["ROOT_FORMAT", "ROOT_GENESIS", "AuditRoot", "merkle_root", "next_root", "root_hash"]

ROOT_FORMAT = "sso-bridge-audit-root/1"
"""The version tag that starts every root's canonical encoding."""

ROOT_GENESIS = hashlib.sha256(f"{CHAIN_FORMAT} roots".encode("ascii")).hexdigest()
"""The "previous hash" of the first root."""


@attrs.frozen
class AuditRoot:
    """One root record: ``heads`` maps each non-empty chain to its head record's id,
    ``merkle`` is :func:`merkle_root` over those records' hashes, ``root_hash`` chains
    the root to the one before it (:func:`root_hash`)."""

    root_id: int
    at: datetime
    heads: Mapping[int, int]
    merkle: str
    root_hash: str


def _leaf(chain: int, head_id: int, head_hash: str) -> bytes:
    return hashlib.sha256(b"\x00" + f"{chain}:{head_id}:{head_hash}".encode("ascii")).digest()


def merkle_root(heads: Mapping[int, tuple[int, str]]) -> str:
    """Hex Merkle root over ``{chain: (head id, head hash)}``, leaves in chain order.

    A leaf is SHA-256 over ``0x00 "chain:id:hash"``, a node SHA-256 over ``0x01`` and its
    two children; an odd node is carried up as it is. No heads give the hash of nothing.
    """
    level = [_leaf(chain, *heads[chain]) for chain in sorted(heads)]
    if not level:
        return hashlib.sha256(b"").hexdigest()
    while len(level) > 1:
        pairs = range(0, len(level) - 1, 2)
        paired = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in pairs]
        level = paired + level[len(paired) * 2 :]
    return level[0].hex()


def _canonical(root_id: int, at: datetime, heads: Mapping[int, int], merkle: str) -> bytes:
    when = at.astimezone(UTC).isoformat(timespec="microseconds")
    pairs = [[chain, heads[chain]] for chain in sorted(heads)]
    values = [ROOT_FORMAT, root_id, when, pairs, merkle]
    return json.dumps(values, separators=(",", ":")).encode("ascii")


def root_hash(
    previous: str, root_id: int, at: datetime, heads: Mapping[int, int], merkle: str
) -> str:
    """Hex SHA-256 over the previous root's hash and this root's canonical encoding."""
    return hashlib.sha256(
        previous.encode("ascii") + _canonical(root_id, at, heads, merkle)
    ).hexdigest()


def next_root(
    previous: AuditRoot | None, at: datetime, heads: Iterable[tuple[int, int, str]]
) -> AuditRoot:
    """The root after ``previous`` over ``heads`` (chain, head id, head hash)."""
    by_chain = {chain: (head_id, head) for chain, head_id, head in heads}
    root_id = 1 if previous is None else previous.root_id + 1
    before = ROOT_GENESIS if previous is None else previous.root_hash
    ids = {chain: head_id for chain, (head_id, _) in by_chain.items()}
    merkle = merkle_root(by_chain)
    return AuditRoot(root_id, at, ids, merkle, root_hash(before, root_id, at, ids, merkle))

"""Verifying a whole trail: every chain, the roots over them, from the start or an anchor.

A plain :class:`~sso_bridge.audit.ports.AuditLog` is one chain in ``event_id`` order. A
:class:`ChainedTrail` (the SQL store) has several chains and root records; each chain is
checked on its own (in parallel where the trail can), the roots are checked as a chain of
their own, and the newest root's heads must still be in their chains.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol, runtime_checkable

import attrs

from sso_bridge.audit.chain import ChainReport, EventSource, iter_events, verify_chain
from sso_bridge.audit.commit import CommitmentKey
from sso_bridge.audit.roots import ROOT_GENESIS, AuditRoot, merkle_root, root_hash
from sso_bridge.model import AuditEvent

__all__ = [
    "ChainStart",
    "ChainedTrail",
    "Committed",
    "Problem",
    "RootAnchor",
    "TrailReport",
    "check_chains",
    "verify_log",
]


@attrs.frozen
class ChainStart:
    """Where to start checking ``chain``: after the record ``after_id`` whose stored hash
    is ``previous`` (``0`` and ``None``: from its first record); ``marks`` are record ids
    whose hashes the report should keep."""

    chain: int
    after_id: int = 0
    previous: str | None = None
    marks: frozenset[int] = frozenset()


@attrs.frozen
class RootAnchor:
    """A root kept outside the database: its id and, to check it too, its hash."""

    root_id: int
    root_hash: str | None = None


@attrs.frozen
class Problem:
    """One thing verification found: the chain, record or root it is about, and why."""

    reason: str
    chain: int | None = None
    record: int | None = None
    root: int | None = None
    intact: int | None = None
    """For a broken chain: how many of its records before the bad one are intact."""

    def line(self) -> str:
        where = [f"chain {self.chain}"] if self.chain is not None else []
        if self.record is not None:
            where.append(f"record {self.record}")
        if self.root is not None:
            where.append(f"root {self.root}")
        text = ": ".join([*where, self.reason])
        if self.intact is not None:
            text += f" ({self.intact} record(s) before it in the chain are intact)"
        return text


@attrs.frozen
class TrailReport:
    """The result of :func:`verify_log`: one :class:`ChainReport` per chain, the problems
    found (the first bad record of each broken chain, roots that fail or name records a
    chain no longer holds), and the newest intact root, the value to keep elsewhere."""

    chains: tuple[ChainReport, ...]
    problems: tuple[Problem, ...] = ()
    roots_checked: int = 0
    root_id: int | None = None
    root_hash: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def checked(self) -> int:
        """Intact records, over all chains."""
        return sum(c.checked for c in self.chains)

    @property
    def first_bad(self) -> int | None:
        """The record named by the first problem, if it names one."""
        return self.problems[0].record if self.problems else None

    @property
    def reason(self) -> str | None:
        return self.problems[0].reason if self.problems else None

    def _chain0(self) -> ChainReport | None:
        return next((c for c in self.chains if c.chain == 0), None)

    @property
    def head(self) -> str | None:
        """Chain 0's head hash (the whole trail of a single-chain log)."""
        chain = self._chain0()
        return None if chain is None else chain.head

    @property
    def head_id(self) -> int | None:
        chain = self._chain0()
        return None if chain is None else chain.head_id


@runtime_checkable
class Committed(Protocol):
    """A log that commits to personal fields (every log of this package)."""

    @property
    def commitment_key(self) -> CommitmentKey:
        """The key its commitments are made with."""
        ...


@runtime_checkable
class ChainedTrail(Protocol):
    """A trail of several chains and root records (:class:`sso_bridge.store.sql.SqlStore`)."""

    def audit_chains(self) -> list[int]:
        """The numbers of every chain that holds records or has a head."""
        ...

    def chain_events(self, chain: int, after_id: int = 0, limit: int = 1000) -> list[AuditEvent]:
        """Up to ``limit`` records of ``chain`` with ids above ``after_id``, ascending."""
        ...

    def audit_roots(self, after_id: int = 0, limit: int = 1000) -> list[AuditRoot]:
        """Up to ``limit`` roots with ids above ``after_id``, ascending."""
        ...

    def audit_heads(self) -> dict[int, tuple[int, str]]:
        """The head (record id, hash) each chain's writer last left, where it keeps one."""
        ...

    def verify_chains(self, plan: Sequence[ChainStart], batch: int) -> list[ChainReport]:
        """:func:`check_chains` with the trail's commitment key, in parallel where it can."""
        ...


def _chain_iter(source: ChainedTrail, start: ChainStart, batch: int) -> Iterator[AuditEvent]:
    after = start.after_id
    while page := source.chain_events(start.chain, after, batch):
        yield from page
        after = int(page[-1].event_id or 0)
        if len(page) < batch:
            return


def check_chains(
    source: ChainedTrail,
    plan: Sequence[ChainStart],
    batch: int = 1000,
    key: CommitmentKey | None = None,
) -> list[ChainReport]:
    """Check each chain of ``plan`` from its start, one after the other."""
    return [
        verify_chain(
            _chain_iter(source, start, batch),
            chain=start.chain,
            previous=start.previous,
            previous_id=start.after_id or None,
            marks=start.marks,
            key=key,
        )
        for start in plan
    ]


def _check_roots(
    roots: list[AuditRoot], anchor: RootAnchor | None, problems: list[Problem]
) -> tuple[AuditRoot | None, AuditRoot | None, int]:
    """The anchored root and the newest intact one, and how many roots are intact."""
    previous, expected_id, start = ROOT_GENESIS, 1, None
    if anchor is not None:
        if not roots or roots[0].root_id != anchor.root_id:
            problems.append(Problem("the anchored root is not in the trail", root=anchor.root_id))
            return None, None, 0
        start = roots[0]
        if anchor.root_hash is not None and start.root_hash != anchor.root_hash:
            problems.append(Problem("hash differs from the anchored one", root=start.root_id))
            return None, None, 0
        previous, expected_id, roots = start.root_hash, start.root_id + 1, roots[1:]
    newest, checked = start, 0
    for root in roots:
        try:
            computed = root_hash(previous, root.root_id, root.at, root.heads, root.merkle)
        except (AttributeError, TypeError, ValueError):  # an edited, unreadable root
            computed = None
        if root.root_id != expected_id or computed != root.root_hash:
            problems.append(
                Problem("hash does not match its content or its predecessor", root=root.root_id)
            )
            break
        previous, expected_id, newest, checked = root.root_hash, root.root_id + 1, root, checked + 1
    return start, newest, checked


def _heads_of(root: AuditRoot, source: ChainedTrail) -> dict[int, tuple[int, str]] | None:
    heads: dict[int, tuple[int, str]] = {}
    for chain, head_id in root.heads.items():
        page = source.chain_events(chain, head_id - 1, 1)
        if not page or page[0].event_id != head_id or page[0].chain_hash is None:
            return None
        heads[chain] = (head_id, page[0].chain_hash)
    return heads


def verify_log(
    source: EventSource | ChainedTrail, batch: int = 1000, *, since: RootAnchor | None = None
) -> TrailReport:
    """Verify a stored trail: every chain, and the roots where the trail has them.

    With ``since``, start from that root (its hash checked when the anchor has one): each
    chain from the head the root names, the roots from that root on. Kept personal values
    are checked against their commitments with the log's key (:class:`Committed`).
    """
    if not isinstance(source, ChainedTrail):
        key = source.commitment_key if isinstance(source, Committed) else None
        single = verify_chain(iter_events(source, batch), key=key)
        return TrailReport((single,), _chain_problems([single]))
    problems: list[Problem] = []
    roots = _all_roots(source, 0 if since is None else since.root_id - 1, batch)
    start, newest, roots_checked = _check_roots(roots, since, problems)
    if since is not None and start is None:
        return TrailReport((), tuple(problems))
    witness = source.audit_heads()
    plan: dict[int, ChainStart] = {c: ChainStart(c) for c in source.audit_chains()}
    if start is not None:
        start_heads = _heads_of(start, source)
        if start_heads is None or merkle_root(start_heads) != start.merkle:
            problems.append(Problem("does not match the records it names", root=start.root_id))
            return TrailReport((), tuple(problems))
        for chain, (head_id, head) in start_heads.items():
            plan[chain] = ChainStart(chain, head_id, head)
    _mark_heads(plan, newest, witness)
    reports = source.verify_chains([plan[c] for c in sorted(plan)], batch)
    problems.extend(_chain_problems(reports))
    by_chain = {r.chain: r for r in reports}
    if newest is not None and newest is not start:
        _check_newest(newest, by_chain, plan, problems)
    _check_witness(witness, by_chain, plan, problems)
    return TrailReport(
        tuple(reports),
        tuple(problems),
        roots_checked,
        None if newest is None else newest.root_id,
        None if newest is None else newest.root_hash,
    )


def _mark_heads(
    plan: dict[int, ChainStart],
    newest: AuditRoot | None,
    witness: Mapping[int, tuple[int, str]],
) -> None:
    """Have each chain's walk note the records that the newest root and the heads name."""
    wanted: dict[int, set[int]] = {}
    for chain, head_id in (newest.heads if newest is not None else {}).items():
        wanted.setdefault(chain, set()).add(head_id)
    for chain, (head_id, _) in witness.items():
        if head_id:
            wanted.setdefault(chain, set()).add(head_id)
    for chain, ids in wanted.items():
        base = plan.get(chain, ChainStart(chain))
        plan[chain] = attrs.evolve(base, marks=frozenset(i for i in ids if i > base.after_id))


def _check_witness(
    witness: Mapping[int, tuple[int, str]],
    by_chain: Mapping[int, ChainReport],
    plan: Mapping[int, ChainStart],
    problems: list[Problem],
) -> None:
    """A head that a chain's records no longer reach: records were removed from its end."""
    for chain, (head_id, head) in witness.items():
        held = by_chain.get(chain)
        if not head_id or held is None or not held.ok or head_id <= plan[chain].after_id:
            continue
        if held.marks.get(head_id) != head:
            problems.append(
                Problem(
                    "the chain's head record is missing or differs: records were removed "
                    "from its end",
                    chain=chain,
                    record=head_id,
                )
            )


def _all_roots(source: ChainedTrail, after: int, batch: int) -> list[AuditRoot]:
    roots: list[AuditRoot] = []
    while page := source.audit_roots(after, batch):
        roots.extend(page)
        after = page[-1].root_id
        if len(page) < batch:
            break
    return roots


def _check_newest(
    newest: AuditRoot,
    by_chain: Mapping[int, ChainReport],
    plan: Mapping[int, ChainStart],
    problems: list[Problem],
) -> None:
    heads: dict[int, tuple[int, str]] = {}
    for chain, head_id in newest.heads.items():
        report = by_chain.get(chain)
        found = None if report is None else report.marks.get(head_id)
        start = plan.get(chain)
        if found is None and start is not None and start.after_id == head_id:
            found = start.previous  # the chain has not grown since the anchored root
        if found is not None:
            heads[chain] = (head_id, found)
        elif report is None or report.ok:
            problems.append(
                Problem(
                    f"named by root {newest.root_id}, the chain no longer holds it: "
                    "the chain was cut",
                    chain=chain,
                    record=head_id,
                )
            )
    if len(heads) == len(newest.heads) and merkle_root(heads) != newest.merkle:
        problems.append(Problem("does not match the records it names", root=newest.root_id))


def _chain_problems(reports: Sequence[ChainReport]) -> tuple[Problem, ...]:
    return tuple(
        Problem(r.reason, chain=r.chain, record=r.first_bad, intact=r.checked)
        for r in reports
        if not r.ok and r.reason is not None
    )

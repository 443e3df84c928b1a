"""The curves of GOST R 34.10-2012 (256-bit) and the arithmetic of its signatures.

The parameter sets come from ``gostcrypto``; points are multiplied in ``fastecdsa``'s
compiled code. :mod:`sso_bridge.esia.gost` hashes and encodes; this module only works
with numbers: the digest number ``e``, the signature ``(r, s)`` and the key's point.
"""

from __future__ import annotations

import functools
from typing import Final

import attrs

# fastecdsa 4 builds these in Rust and re-exports them here, where older versions define them
from fastecdsa.curve import Curve  # type: ignore[attr-defined]
from fastecdsa.point import Point  # type: ignore[attr-defined]
from gostcrypto import gostsignature  # type: ignore[import-untyped]

from sso_bridge.esia.errors import EsiaError

__all__ = [
    "CURVES",
    "DEFAULT_CURVE",
    "PARAMETER_SETS",
    "GostCurve",
    "Point",
    "curve_named",
    "recovery_cost",
    "sign_number",
    "signers",
    "sqrt_mod",
    "verify_number",
    "verify_number_python",
]

DEFAULT_CURVE: Final = "id-GostR3410-2001-CryptoPro-A-ParamSet"
"""The curve of ``openssl genpkey -algorithm gost2012_256 -pkeyopt paramset:A``."""

PARAMETER_SETS: Final = {
    "id-GostR3410-2001-CryptoPro-A-ParamSet": ("1.2.643.2.2.35.1", "B"),
    "id-GostR3410-2001-CryptoPro-B-ParamSet": ("1.2.643.2.2.35.2", "C"),
    "id-GostR3410-2001-CryptoPro-C-ParamSet": ("1.2.643.2.2.35.3", "D"),
    "id-GostR3410-2001-CryptoPro-XchA-ParamSet": ("1.2.643.2.2.36.0", "B"),
    "id-GostR3410-2001-CryptoPro-XchB-ParamSet": ("1.2.643.2.2.36.1", "D"),
    "id-tc26-gost-3410-2012-256-paramSetA": ("1.2.643.7.1.2.1.1.1", "A"),
    "id-tc26-gost-3410-2012-256-paramSetB": ("1.2.643.7.1.2.1.1.2", "B"),
    "id-tc26-gost-3410-2012-256-paramSetC": ("1.2.643.7.1.2.1.1.3", "C"),
    "id-tc26-gost-3410-2012-256-paramSetD": ("1.2.643.7.1.2.1.1.4", "D"),
}
"""Curve name -> (its object identifier, the same curve's name in gostcrypto)."""
CURVES: Final = tuple(PARAMETER_SETS)
"""The names of the 256-bit curves known here."""


@attrs.frozen
class GostCurve:
    """One curve: its name, order ``q`` and the compiled arithmetic."""

    name: str
    q: int
    ec: Curve

    @staticmethod
    def custom(name: str, p: int, a: int, b: int, q: int, x: int, y: int) -> GostCurve:
        return GostCurve(name, q, Curve(name, p, a, b, q, x, y))


@functools.cache
def curve_named(name: str) -> GostCurve:
    if name not in PARAMETER_SETS:
        raise EsiaError(f"unknown GOST curve {name!r}", code="esia.gost_bad_key")
    params = gostsignature.CURVES_R_1323565_1_024_2019[
        f"id-tc26-gost-3410-2012-256-paramSet{PARAMETER_SETS[name][1]}"
    ]
    return GostCurve.custom(name, *(params[k] for k in ("p", "a", "b", "q", "x", "y")))


def sign_number(curve: GostCurve, d: int, e: int, k: int) -> tuple[int, int]:
    """``(r, s)`` for the digest number ``e`` with the nonce ``k``; ``(0, 0)`` if ``k`` fails."""
    r = (k * curve.ec.G).x % curve.q
    s = (r * d + k * e) % curve.q
    return (r, s) if r and s else (0, 0)


def verify_number(curve: GostCurve, point: Point, e: int, r: int, s: int) -> bool:
    q = curve.q
    if not (0 < r < q and 0 < s < q):
        return False
    compiled = getattr(curve.ec, "verify", None)  # fastecdsa 4: ECDSA verification in Rust
    if compiled is None:
        return verify_number_python(curve, point, e, r, s)
    # GOST accepts when ((s/e) G + (-r/e) Q).x = r (mod q); ECDSA with the signature
    # (r, s') over the number z computes ((z/s') G + (r/s') Q).x. With s' = -e and z = -s
    # the two are the same point, so ECDSA's one compiled check is GOST's check.
    size = (q.bit_length() + 7) // 8
    try:
        return bool(
            compiled(
                r.to_bytes(size, "little"),
                ((-e) % q).to_bytes(size, "little"),
                ((-s) % q).to_bytes(size, "little"),
                point.x.to_bytes(size, "little"),
                point.y.to_bytes(size, "little"),
            )
        )
    except (ValueError, TypeError, OverflowError, ArithmeticError):
        return False


@functools.cache
def recovery_cost(curve: GostCurve) -> int:
    """Scalar multiplications :func:`signers` makes: one, and two per x the point may
    have (one x when the group order is about the field's size, four for cofactor 4)."""
    return 1 + 2 * max(1, round(curve.ec.p / curve.q))


def signers(curve: GostCurve, e: int, r: int, s: int) -> set[tuple[int, int]]:
    """Every public key ``Q`` for which ``(r, s)`` is a valid signature of ``e``.

    Valid means ``C = z1 G + z2 Q`` has ``C.x = r (mod q)``, with ``z1 = s / e`` and
    ``z2 = -r / e``. Such a ``C`` is a point whose x is ``r``, ``r + q``, ... (below p),
    with either y; for each, ``Q = (C - z1 G) / z2``.
    """
    q, ec = curve.q, curve.ec
    p = ec.p
    v = pow(e, -1, q)
    z1, z2 = s * v % q, (q - r * v % q) % q
    back = pow(z2, -1, q)
    minus_z1g = (q - z1) * ec.G
    found: set[tuple[int, int]] = set()
    x = r
    while x < p:
        y = sqrt_mod((x * x * x + ec.a * x + ec.b) % p, p)
        if y is not None:
            for root in {y, (p - y) % p}:
                candidate = back * (Point(x, root, ec) + minus_z1g)
                found.add((candidate.x, candidate.y))
        x += q
    return found


@functools.cache
def _non_residue(p: int) -> int:
    z = 2
    while pow(z, (p - 1) // 2, p) != p - 1:
        z += 1
    return z


def sqrt_mod(a: int, p: int) -> int | None:
    """A square root of ``a`` modulo the odd prime ``p`` (Tonelli-Shanks), or None."""
    if a == 0:
        return 0
    if pow(a, (p - 1) // 2, p) != 1:
        return None
    if p % 4 == 3:
        return pow(a, (p + 1) // 4, p)
    odd, twos = p - 1, 0
    while odd % 2 == 0:
        odd //= 2
        twos += 1
    m, c = twos, pow(_non_residue(p), odd, p)
    t, root = pow(a, odd, p), pow(a, (odd + 1) // 2, p)
    while t != 1:
        i, square = 0, t
        while square != 1:
            square = square * square % p
            i += 1
        b = pow(c, 1 << (m - i - 1), p)
        m, c, t, root = i, b * b % p, t * b * b % p, root * b % p
    return root


def verify_number_python(curve: GostCurve, point: Point, e: int, r: int, s: int) -> bool:
    """GOST R 34.10-2012 verification as the standard writes it (two multiplications)."""
    q = curve.q
    if not (0 < r < q and 0 < s < q):
        return False
    v = pow(e, -1, q)
    c = (s * v % q) * curve.ec.G + (q - r * v % q) * point
    return c.x % q == r  # the point at infinity has x == 0, never equal to r

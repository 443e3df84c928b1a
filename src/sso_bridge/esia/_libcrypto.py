"""Streebog-256 from the system's OpenSSL 3, when its GOST provider is installed.

Debian and Ubuntu ship the provider as ``libengine-gost-openssl`` (``gostprov.so`` in
OpenSSL's modules directory). It is loaded into a library context of its own, so the
process's other OpenSSL users (``ssl``, ``hashlib``, ``cryptography``) see no change. The
compiled hash costs about 10 ns a byte where the Python one (:mod:`._streebog`) costs about
2 µs; before it is used it must give the standard's digests, and any failure to load, fetch
or agree leaves the Python one in place. ``SSO_BRIDGE_STREEBOG=python`` turns it off.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import threading
from collections.abc import Callable

__all__ = ["load_streebog256"]

_NAMES = ("libcrypto.so.3", "libcrypto.3.dylib")
_PROVIDER = b"gostprov"
_DIGEST = b"md_gost12_256"
_OFF = "python"

# GOST R 34.11-2012 / RFC 6986 example M1 and its 256-bit digest, in the byte order
# ``openssl dgst`` prints (the reverse of the standard's hexadecimal number)
_EXAMPLE = b"012345678901234567890123456789012345678901234567890123456789012"
_EXAMPLE_DIGEST = bytes.fromhex("9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500")

_lock = threading.Lock()
_loaded: list[Callable[[bytes], bytes] | None] = []


def _library() -> ctypes.CDLL | None:
    # the usual names first: find_library runs ldconfig (a process) to look
    for name in _NAMES:
        with contextlib.suppress(OSError):
            return ctypes.CDLL(name)
    found = ctypes.util.find_library("crypto")
    with contextlib.suppress(OSError):
        return None if found is None else ctypes.CDLL(found)
    return None


def _bind() -> Callable[[bytes], bytes] | None:
    lib = _library()
    if lib is None:
        return None
    try:
        new_context = lib.OSSL_LIB_CTX_new
        load_provider = lib.OSSL_PROVIDER_load
        fetch = lib.EVP_MD_fetch
        digest = lib.EVP_Digest
        clear_errors = lib.ERR_clear_error
    except (OSError, AttributeError):  # not OpenSSL 3
        return None
    clear_errors.restype, clear_errors.argtypes = None, []
    new_context.restype, new_context.argtypes = ctypes.c_void_p, []
    load_provider.restype = ctypes.c_void_p
    load_provider.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    fetch.restype = ctypes.c_void_p
    fetch.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    digest.restype = ctypes.c_int
    digest.argtypes = [
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_uint),
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    context = new_context()
    algorithm = context and load_provider(context, _PROVIDER) and fetch(context, _DIGEST, None)
    if not algorithm:
        # the queue of OpenSSL errors is the thread's, shared with ssl and hashlib
        clear_errors()
        return None

    def streebog256(data: bytes) -> bytes:
        out = ctypes.create_string_buffer(64)
        size = ctypes.c_uint(0)
        if digest(bytes(data), len(data), out, ctypes.byref(size), algorithm, None) != 1:
            clear_errors()
            raise RuntimeError("OpenSSL's Streebog-256 failed")
        return out.raw[: size.value]

    try:
        if streebog256(_EXAMPLE) != _EXAMPLE_DIGEST:
            return None
    except RuntimeError:
        return None
    return streebog256


def load_streebog256() -> Callable[[bytes], bytes] | None:
    """OpenSSL's Streebog-256 (bytes as :func:`sso_bridge.esia.gost.streebog256` gives
    them), or None when it is not there, fails its check, or is turned off."""
    if os.environ.get("SSO_BRIDGE_STREEBOG", "").strip().lower() == _OFF:
        return None
    with _lock:
        if not _loaded:
            _loaded.append(_bind())
        return _loaded[0]

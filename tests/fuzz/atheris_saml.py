"""Coverage-guided fuzzing of the SAML service provider's parse and verify path, with atheris.

Optional, and not part of any test run (pytest does not collect this file). Install the
fuzzer into the project's virtualenv (wheels exist for CPython 3.11 on x86-64 Linux):

    .venv/bin/pip install atheris
    mkdir -p build/fuzz/atheris-corpus
    .venv/bin/python tests/fuzz/atheris_saml.py -max_total_time=600 -timeout=5 \\
        -artifact_prefix=build/fuzz/ build/fuzz/atheris-corpus

Every input picks one of the mock IdP's signed login responses and splices the fuzzer's
bytes into it, or (first choice 0) is a whole document of its own; sso_bridge is
instrumented, so libFuzzer keeps the inputs that reach new code. The invariant is the
pytest harness's: a response is accepted only with the identity the IdP signed, and
anything refused is refused with a ``BridgeError`` carrying a stable code. Any other
outcome is a crash: libFuzzer stops and writes the input to ``build/fuzz/crash-<sha1>``.
``-timeout`` (seconds) makes libFuzzer report an input that runs too long.
"""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: fuzz and helpers

import atheris

with atheris.instrument_imports(include=["sso_bridge"]):
    import sso_bridge.saml  # noqa: F401 - instrumented before anything else imports it
    from sso_bridge.errors import BridgeError

from fuzz.saml_world import (
    CLOCK,
    NOW,
    PENDING_FOR,
    InMemoryReplayCache,
    parse_xml,
    process_response,
    same_identity,
    saml_world,
)

CODE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")


def _check_refusal(exc: BridgeError) -> None:
    if not isinstance(exc.code, str) or not CODE.fullmatch(exc.code):
        raise AssertionError(f"refused without a stable code: {exc.code!r}") from exc


def test_one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    world = saml_world()
    base = world.logins[provider.ConsumeIntInRange(0, len(world.logins) - 1)]
    splices = provider.ConsumeIntInRange(0, 3)
    if splices == 0:
        document = provider.ConsumeBytes(provider.ConsumeIntInRange(0, 64 * 1024))
    else:
        document = base.xml
        for _ in range(splices):
            at = provider.ConsumeIntInRange(0, len(document))
            cut = provider.ConsumeIntInRange(0, 32)
            insert = provider.ConsumeBytes(provider.ConsumeIntInRange(0, 64))
            document = document[:at] + insert + document[at + cut :]
    try:
        parse_xml(document)
    except BridgeError as exc:
        _check_refusal(exc)
    pending = [(base.request_id, NOW + PENDING_FOR)] if base.request_id else []
    try:
        result = process_response(
            base64.b64encode(document),
            base.config,
            request_store=world.request_store(*pending),
            replay_cache=InMemoryReplayCache(),
            clock=CLOCK,
        )
    except BridgeError as exc:
        _check_refusal(exc)
        return
    problem = same_identity(base, result)
    if problem is not None:
        raise AssertionError(f"an accepted response changed the identity: {problem}")


def main() -> None:
    saml_world()  # built before fuzzing starts, so that it does not count as a slow input
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

"""deploy/ as its own checkers see it: the Compose file names its services, healthchecks and
start order; the systemd units pass ``systemd-analyze verify``; the nginx config passes
``nginx -t`` with its paths moved into a temporary directory."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = ("portal@.service", "mock-idp.service", "portal-seed.service")


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_the_compose_file_runs_two_portals_behind_nginx_on_postgresql_and_redis() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "redis", "mock_idp", "seed", "portal1", "portal2", "nginx"}
    assert services["postgres"]["image"] == "postgres:15"
    redis = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis and "--appendfsync everysec" in redis
    for name in ("portal1", "portal2"):
        portal = services[name]
        assert "serve.py" in portal["command"]
        assert portal["environment"]["PORTAL_DB"].startswith("postgresql://")
        assert portal["environment"]["SSO_BRIDGE_EPHEMERAL"].startswith("redis://")
        assert "/auth/readyz" in " ".join(portal["healthcheck"]["test"])
        assert portal["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "mock_idp": {"condition": "service_healthy"},
            "seed": {"condition": "service_completed_successfully"},
        }
    for name in ("postgres", "redis", "mock_idp", "nginx"):
        assert services[name]["healthcheck"]["test"], name
    assert services["nginx"]["depends_on"] == {
        "portal1": {"condition": "service_healthy"},
        "portal2": {"condition": "service_healthy"},
    }
    assert "seed.py" in services["seed"]["command"]


def test_nginx_is_the_only_trusted_proxy_and_its_upstream_names_both_portals() -> None:
    compose = _compose()
    nginx_ip = compose["services"]["nginx"]["networks"]["default"]["ipv4_address"]
    for name in ("portal1", "portal2"):
        trusted = compose["services"][name]["environment"]["PORTAL_TRUSTED_PROXIES"]
        assert trusted == f"{nginx_ip}/32"
    upstream = (DEPLOY / "nginx" / "upstream-compose.conf").read_text(encoding="utf-8")
    assert "server portal1:8000" in upstream and "server portal2:8000" in upstream
    mounts = compose["services"]["nginx"]["volumes"]
    assert "./nginx/upstream-compose.conf:/etc/nginx/portal-upstream.conf:ro" in mounts


@pytest.mark.parametrize("unit", UNITS)
def test_the_systemd_units_pass_systemd_analyze_verify(unit: str, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    # the units name the deployment's venv; here it is this one, so the command exists
    for path in (DEPLOY / "systemd").glob("*.service"):
        text = path.read_text(encoding="utf-8")
        text = text.replace("/opt/sso-portal/venv/bin/python", sys.executable)
        (tmp_path / path.name).write_text(text, encoding="utf-8")
    name = unit.replace("@.", "@8001.")  # a template is verified through an instance
    done = subprocess.run(
        [analyze, "verify", "--man=no", f"./{name}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # warnings (unknown keys...) too


def test_the_portal_units_are_hardened_and_read_their_secrets_from_a_file() -> None:
    for unit in UNITS:
        text = (DEPLOY / "systemd" / unit).read_text(encoding="utf-8")
        for line in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes"):
            assert line in text.splitlines(), (unit, line)
        assert "EnvironmentFile=/etc/sso-portal/portal.env" in text.splitlines(), unit
        assert "User=sso-portal" in text.splitlines(), unit


def _self_signed(where: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "portal.school.test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    (where / "portal.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (where / "portal.key").write_bytes(pem)


def _nginx_test(config: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # Debian puts nginx in /usr/sbin, which is not on every user's PATH
    nginx = shutil.which("nginx", path="/usr/sbin:/usr/bin:/sbin:/bin")
    if nginx is None:
        pytest.skip("nginx is not installed (Debian package nginx-light or nginx)")
    _self_signed(tmp_path)
    for name in ("mime.types",):
        source = Path("/etc/nginx") / name
        if source.exists():
            shutil.copy(source, tmp_path / name)
        else:
            (tmp_path / name).write_text("types { text/html html; }\n", encoding="utf-8")
    local = DEPLOY / "nginx" / "upstream-local.conf"
    moved = (
        config.replace("/etc/nginx/tls", str(tmp_path))
        .replace("/etc/nginx/portal-upstream.conf", str(local))
        .replace("/etc/nginx/mime.types", str(tmp_path / "mime.types"))
        .replace("/var/log/nginx", str(tmp_path))
        .replace("/run/nginx.pid", str(tmp_path / "nginx.pid"))
    )
    assert "/etc/" not in moved and "/var/" not in moved and "/run/" not in moved
    (tmp_path / "nginx.conf").write_text(moved, encoding="utf-8")
    command = [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log")]
    command += ["-c", str(tmp_path / "nginx.conf")]
    # -t reads and checks the configuration and exits: no server is left running
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_the_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    config = (DEPLOY / "nginx" / "nginx.conf").read_text(encoding="utf-8")
    done = _nginx_test(config, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr
    # and the checker does refuse a broken one
    broken = _nginx_test(config.replace("proxy_pass http://portal;", "proxy_pass;", 1), tmp_path)
    assert broken.returncode != 0


def test_nginx_sets_the_proxy_headers_the_portal_reads() -> None:
    config = (DEPLOY / "nginx" / "nginx.conf").read_text(encoding="utf-8")
    for line in (
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Request-ID $request_id;",
        "client_max_body_size 1m;",
        "location = /auth/metrics {",
    ):
        assert line in config, line


def test_the_image_is_built_from_what_the_repository_holds() -> None:
    compose = _compose()
    build = compose["services"]["mock_idp"]["build"]
    context = (DEPLOY / build["context"]).resolve()
    assert context == ROOT
    dockerfile = context / build["dockerfile"]
    copied = [
        line.split()[1:-1]
        for line in dockerfile.read_text(encoding="utf-8").splitlines()
        if line.startswith("COPY ") and "--from" not in line
    ]
    assert copied
    for sources in copied:
        for source in sources:
            assert (context / source).exists(), source
    images = {s.get("image") for s in compose["services"].values()}
    assert "sso-portal:latest" in images


def test_the_image_hashes_esia_streebog_in_openssl() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    runs = [part for part in dockerfile.split("\nRUN ")[1:] if "apt-get install" in part]
    assert any("libengine-gost-openssl" in part for part in runs)

"""``mock-idp``: serve the mock IdP, and manage the people in its config file."""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path
from typing import Any

import click

from sso_bridge.errors import BridgeError

SAMPLE_CONFIG = Path(str(resources.files("mock_idp") / "sample.yaml"))


class _Cli(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BridgeError as exc:
            click.echo(f"error: {exc.code}: {exc.message}", err=True)
            sys.exit(1)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """An ESIA-like identity provider for tests and local work (OIDC and SAML 2.0)."""


@main.command()
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="People and clients (YAML or JSON); default: the bundled sample.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8900, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(".mock-idp"),
    show_default=True,
    help="Where the signing keys live.",
)
@click.option(
    "--admin-token",
    envvar="MOCK_IDP_ADMIN_TOKEN",
    help="The token /admin/* and /outbox require (default: a new random one, printed).",
)
def serve(
    config: Path | None, host: str, port: int, state_dir: Path, admin_token: str | None
) -> None:
    """Serve the mock IdP until interrupted."""
    from mock_idp.server import serve as run  # noqa: PLC0415 - keeps `users` free of uvicorn

    click.echo(f"mock IdP on http://{host}:{port}/ (SMS outbox at /outbox, with the token)")
    run(
        config or SAMPLE_CONFIG,
        host,
        port,
        state_dir,
        admin_token=admin_token,
        announce=click.echo,
    )


@main.group()
def users() -> None:
    """People in a config file."""


config_option = click.option(
    "--config",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The YAML or JSON config file.",
)


@users.command("list")
@config_option
def users_list(config: Path) -> None:
    """List the people of a config file."""
    from mock_idp.users import load_directory  # noqa: PLC0415

    for person in load_directory(config):
        name = " ".join(p for p in (person.last_name, person.first_name, person.middle_name) if p)
        click.echo(
            f"{person.oid}\t{person.login}\t{name}\t{person.birth_date}\t"
            f"{person.level.value}\t{person.second_factor.value}"
        )


@users.command("add")
@config_option
@click.option("--oid", required=True, type=click.IntRange(1))
@click.option("--login", required=True, help="Phone, e-mail or SNILS.")
@click.option("--password", required=True)
@click.option("--last-name", required=True)
@click.option("--first-name", required=True)
@click.option("--middle-name")
@click.option("--birth-date", required=True, help="DD.MM.YYYY")
@click.option("--gender", type=click.Choice(["M", "F"]), default="M", show_default=True)
@click.option(
    "--level",
    type=click.Choice(["simplified", "standard", "confirmed"]),
    default="confirmed",
    show_default=True,
)
@click.option("--snils")
@click.option("--phone", help="A verified mobile contact.")
@click.option("--email", help="A verified e-mail contact.")
@click.option(
    "--second-factor", type=click.Choice(["sms", "totp"]), default="sms", show_default=True
)
@click.option("--totp-secret", help="Base32 secret, for --second-factor totp.")
def users_add(config: Path, **fields: Any) -> None:
    """Add a person to a config file (or replace the one with the same oid)."""
    from mock_idp.users import (  # noqa: PLC0415
        Directory,
        load_directory,
        person_from_dict,
        save_directory,
    )

    phone, email = fields.pop("phone"), fields.pop("email")
    contacts = []
    if phone:
        contacts.append({"type": "MBT", "value": phone, "verified": True})
    if email:
        contacts.append({"type": "EML", "value": email, "verified": True})
    data = {k: v for k, v in fields.items() if v is not None}
    data["contacts"] = contacts
    people = load_directory(config) if config.exists() else Directory()
    people.put(person_from_dict(data))
    save_directory(config, people)
    click.echo(f"{config}: person {data['oid']} saved")


if __name__ == "__main__":
    main()

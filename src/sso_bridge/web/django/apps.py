"""The app's configuration: the auth pages built from ``settings.SSO_BRIDGE``."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from sso_bridge.broker import Broker
from sso_bridge.errors import ConfigError
from sso_bridge.web.core import AuthRoutes
from sso_bridge.web.http import WebConfig

__all__ = ["SsoBridgeConfig", "auth", "web_config"]

SETTING = "SSO_BRIDGE"


def _setting() -> dict[str, Any]:
    value = getattr(settings, SETTING, None)
    if not isinstance(value, dict):
        raise ConfigError(
            f"Django's {SETTING} setting must be a dict with a BROKER", code="config.invalid"
        )
    return value


def web_config() -> WebConfig:
    """``SSO_BRIDGE["CONFIG"]``: a :class:`WebConfig` or its fields (the defaults if unset)."""
    value = _setting().get("CONFIG") or {}
    return value if isinstance(value, WebConfig) else WebConfig(**value)


def _broker() -> Broker:
    value = _setting().get("BROKER")
    if isinstance(value, str):
        value = import_string(value)
    if not isinstance(value, Broker) and callable(value):
        value = value()
    if not isinstance(value, Broker):
        message = (
            f"{SETTING}['BROKER'] in Django's settings must be a Broker, or the dotted path of one"
        )
        raise ConfigError(message, code="config.invalid")
    return value


class SsoBridgeConfig(AppConfig):
    name = "sso_bridge.web.django"
    label = "sso_bridge"
    verbose_name = "sso_bridge"

    @cached_property
    def auth(self) -> AuthRoutes:
        """The auth pages, built on first use (and again when the setting changes)."""
        from sso_bridge.web.django.templates import DjangoTemplates  # noqa: PLC0415

        config = web_config()
        observe = _setting().get("OBSERVE")
        return AuthRoutes(_broker(), config, DjangoTemplates(config), observe=observe)

    def ready(self) -> None:
        setting_changed.connect(_changed, dispatch_uid="sso_bridge.setting_changed")


def _changed(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING:
        apps.get_app_config(SsoBridgeConfig.label).__dict__.pop("auth", None)


def auth() -> AuthRoutes:
    """The auth pages of the project (``sso_bridge.web.django`` must be installed)."""
    config = apps.get_app_config(SsoBridgeConfig.label)
    if not isinstance(config, SsoBridgeConfig):  # pragma: no cover - another app took the label
        raise ConfigError("the app labelled sso_bridge is not ours", code="config.invalid")
    return config.auth

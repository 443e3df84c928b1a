"""The broker: one object that runs the whole login over the library's parts.

:class:`Broker` takes the stores, the providers and the policies; web adapters
(:mod:`sso_bridge.web`) turn requests into its calls and its results into responses.
The login is a pure state machine (:mod:`sso_bridge.broker.machine`); the Broker is its shell.
"""

from sso_bridge.broker.broker import Broker
from sso_bridge.broker.config import (
    AlertHook,
    BrokerPolicy,
    Client,
    OidcProvider,
    Provider,
    SamlProvider,
    SecurityAlert,
    SharedComputerMode,
)
from sso_bridge.broker.errors import BrokerError, StepUpRequired
from sso_bridge.broker.results import (
    AccountOption,
    ChooseAccount,
    LinkedFromSettings,
    LinkRequested,
    LocalLoginForm,
    LoggedIn,
    Redirect,
    SecondFactorForm,
    StepResult,
    StepUpDone,
)
from sso_bridge.broker.states import TRANSITIONS, Event, State

__all__ = [
    "TRANSITIONS",
    "AccountOption",
    "AlertHook",
    "Broker",
    "BrokerError",
    "BrokerPolicy",
    "ChooseAccount",
    "Client",
    "Event",
    "LinkRequested",
    "LinkedFromSettings",
    "LocalLoginForm",
    "LoggedIn",
    "OidcProvider",
    "Provider",
    "Redirect",
    "SamlProvider",
    "SecondFactorForm",
    "SecurityAlert",
    "SharedComputerMode",
    "State",
    "StepResult",
    "StepUpDone",
    "StepUpRequired",
]

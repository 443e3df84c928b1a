"""Personal data over its life: export and erasure of one person (docs/privacy.md).

A :class:`Person` is a local account or a federated identity; :class:`PersonStores`
names the stores that hold their data. :func:`export_person` gives everything held about
them as a JSON-able dict, :func:`erase_person` removes it and returns an
:class:`ErasureReport`; both are audited with the operator's id.
"""

from sso_bridge.privacy.erase import ErasureReport, erase_person
from sso_bridge.privacy.export import EXPORT_FORMAT, export_person
from sso_bridge.privacy.person import Person
from sso_bridge.privacy.stores import PersonStores

__all__ = [
    "EXPORT_FORMAT",
    "ErasureReport",
    "Person",
    "PersonStores",
    "erase_person",
    "export_person",
]

"""SAML support: XML signatures and encryption for pysaml2 entities."""

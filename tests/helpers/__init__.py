"""Helpers shared by the tests: clocks, keys and certificates, sample accounts, SAML
documents. Test modules import from here, never from one another."""

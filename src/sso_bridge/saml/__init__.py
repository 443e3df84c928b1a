"""SAML 2.0: a service provider with in-process, hardened signature verification
(:mod:`.sp`, :mod:`.verify`) and XML signatures and encryption for pysaml2 entities
(:mod:`.xmlsec_backend`)."""

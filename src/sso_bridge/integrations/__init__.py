"""Optional bridges to other libraries (:mod:`.pysaml2`: a crypto backend for pysaml2)."""

__all__: list[str] = []

"""The reference school portal: a small electronic diary that embeds sso_bridge the way a
regional school system would. ``python examples/school_portal/run.py`` (or ``make demo``)
seeds the demo region and serves it with the mock IdP; see docs/quickstart.md."""

__all__: list[str] = []

"""Run :func:`mock_idp.region.cli.main`."""

import sys

from mock_idp.region.cli import main

sys.exit(main())

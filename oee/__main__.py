"""`python -m oee`: the same as the `oee` command."""

from __future__ import annotations

import sys

from oee.cli import main

sys.exit(main())

"""`python -m promptism.cli`, as the `promptism` command."""

import sys

from . import main

sys.exit(main())

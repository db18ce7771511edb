"""`python -m builder` is `deckbuild`."""

import sys

from builder.cli import main

sys.exit(main())

"""``python -m inkasso``: the operator command line (see ``inkasso.cli``)."""

import sys

from inkasso.cli import main

sys.exit(main())

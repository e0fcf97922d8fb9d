"""``python -m inkasso_demo``: the same as ``python -m inkasso_demo.demo`` (the next demo day)."""

import sys

from inkasso_demo.demo import main

sys.exit(main())

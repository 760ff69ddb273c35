"""``python -m infra.local serve --port N`` runs ``python -m local serve --port N``: same output, exit.

(layout alias, issue 22)
"""

from __future__ import annotations

import sys

from local.__main__ import main

if __name__ == "__main__":
    sys.exit(main())

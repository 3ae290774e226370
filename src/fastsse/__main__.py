"""``python -m fastsse``: the same command as ``fastsse``."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())

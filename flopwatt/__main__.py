"""`python -m flopwatt` is the `flopwatt` command."""

import sys

from flopwatt.service.cli import main

sys.exit(main())

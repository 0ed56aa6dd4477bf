"""`python -m bot.cli`, as the tests and benches start the processes."""

import sys

from bot.cli import main

sys.exit(main())

"""`python -m backtests` runs the hypebt command line."""
import sys

from backtests.cli.main import main

sys.exit(main())

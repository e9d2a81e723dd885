"""``python -m tutelage``: the same command line as ``tutelage``."""
import sys

from tutelage.cli import main

sys.exit(main())

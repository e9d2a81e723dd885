import sys

from tutelage.cli import main

sys.exit(main())

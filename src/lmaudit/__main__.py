import sys

from lmaudit.cli import main

sys.exit(main())

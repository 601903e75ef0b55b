import sys

from pollwatch.cli import main

sys.exit(main())

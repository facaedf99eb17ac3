import sys

from hybridperf.cli import main

sys.exit(main())

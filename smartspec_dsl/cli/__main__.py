"""`python -m smartspec_dsl.cli`, the same as the `smartspec` command."""
import sys

from ..__main__ import main

sys.exit(main())

"""`python -m smartspec_dsl.cli`, the same as the `smartspec` command."""
import sys

from . import end_quickly, main

try:
    code = main()
finally:
    end_quickly()
sys.exit(code)

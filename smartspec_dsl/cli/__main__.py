"""`python -m smartspec_dsl.cli`, the same as the `smartspec` command (its SIGINT handler
first: see errors.Interrupted)."""
import signal
import sys

from ..errors import raise_interrupted

signal.signal(signal.SIGINT, raise_interrupted)

from . import end_quickly, main  # noqa: E402  (after the handler)

try:
    code = main()
finally:
    end_quickly()
sys.exit(code)

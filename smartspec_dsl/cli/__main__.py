"""`python -m smartspec_dsl.cli`, the same as the `smartspec` command (its SIGINT handler
first: see errors.Interrupted)."""
import signal
import sys

from ..errors import raise_interrupted

signal.signal(signal.SIGINT, raise_interrupted)

from . import run_process  # noqa: E402  (after the handler)

sys.exit(run_process(ending=True))

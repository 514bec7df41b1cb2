"""The `smartspec` executable (and `python -m smartspec_dsl`). The command line
is imported inside the same guard as the commands: Ctrl-C while Python loads
numpy and Numba is one line and exit 130 too."""
import sys


def main(argv=None) -> int:
    try:
        from .cli import end_quickly, main as cli_main
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    try:
        return cli_main(argv)
    finally:
        end_quickly()


if __name__ == "__main__":
    sys.exit(main())

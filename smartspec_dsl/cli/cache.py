"""`smartspec cache`: the kernel cache (runtime/cache.py): where it is, what it holds
(`smartspec cache`), emptied (`clear`) or brought under a size (`prune`)."""
from __future__ import annotations

import time

from ..errors import SpecError
from ..runtime import cache


def add_parser(sub) -> None:
    """The command's arguments, as a sub-command of `sub`."""
    p = sub.add_parser("cache", help="show the kernel cache, or clear or prune it",
                       description="Show the kernel cache (its folder, size and entries, most recently "
                                   "used first), remove every entry (clear), or remove the least "
                                   "recently used ones until it holds at most a size (prune). The "
                                   "folder is $SMARTSPEC_CACHE_DIR (default ~/.cache/smartspec); its "
                                   "size limit $SMARTSPEC_CACHE_SIZE (default 1G), kept after each "
                                   "compile.")
    p.add_argument("action", nargs="?", choices=["show", "clear", "prune"], default="show")
    p.add_argument("--max-size", metavar="SIZE",
                   help="prune: the size to prune to (bytes, or with K, M, G: 500M); default: the limit")
    p.set_defaults(func=main)


def human(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def _ago(seconds: float) -> str:
    for unit, span in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= span:
            return f"{seconds / span:.0f} {unit} ago"
    return "just now"


def main(args) -> int:
    root = cache.checked_root()
    limit = cache.size_limit()
    if args.max_size and args.action != "prune":
        raise SpecError(f"--max-size is the size `smartspec cache prune` prunes to; `{args.action}` takes none")
    if args.action == "clear":
        removed = cache.clear(root)
        print(f"{root}: removed {len(removed)} entries ({human(sum(e.size for e in removed))})")
        return 0
    if args.action == "prune":
        target = cache.parse_size(args.max_size, "--max-size") if args.max_size else limit
        removed = cache.prune(target, root)
        left = sum(e.size for e in cache.entries(root))
        print(f"{root}: removed {len(removed)} least recently used entries "
              f"({human(sum(e.size for e in removed))}); {human(left)} left")
        return 0
    listing = cache.entries(root)
    total = sum(e.size for e in listing)
    print(f"kernel cache: {root}")
    print(f"size: {human(total)} in {len(listing)} entries (limit {human(limit)}, $SMARTSPEC_CACHE_SIZE)")
    if listing:
        now = time.time()
        what = {"model": "compiled model", "kernel": "machine code", "unknown": "?"}
        rows = [(e.model or "?", what[e.kind], human(e.size), _ago(now - e.last_use),
                 time.strftime("%Y-%m-%d %H:%M", time.localtime(e.last_use)), e.name)
                for e in reversed(listing)]
        header = ("model", "entry", "size", "last use", "", "folder")
        widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
        for row in [header] + rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    return 0

"""Python's cyclic collector paused over a compile (`no_cyclic_collection`), for the kernel
pipeline's passes and a whole load (runtime/loader.py). Free of Numba, so that a load that
never compiles does not import it."""
from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def no_cyclic_collection():
    """Python's cyclic collector paused. The compiler's passes and Numba's (IR, types, LLVM IR
    builders) allocate hundreds of thousands of small objects that all live until the compile
    ends, and the collector walked them again and again (World3's first compiled run: three
    full collections, 0.15 s of a 2 s cold load); they hold few cycles (World3: 69,000
    objects), which the collector's next full run frees. (Moving the load's objects to the
    oldest generation at the end, gc.freeze then gc.unfreeze, saved World3 another 0.15 s,
    but the collector then never ran a full collection in a process that loads model after
    model: its memory grew without bound.) A caller that disabled the collector keeps it so."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()

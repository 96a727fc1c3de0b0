"""A viewer process's own heap: freed memory kept for reuse rather than handed back to the system, and a collector
that does not keep looking at the records passing through.

The ingest process of `viz run` reads the program's events a megabyte at a time and turns them into records and
frames, freeing all of it again within milliseconds. glibc's malloc gives memory back to the system when the top of
its heap has more than a few hundred kilobytes free, and serves blocks of a megabyte with mmap: so the next batch
touches fresh pages, and on these machines each first touch of a page costs about 3 µs (the kernel zeroes it).
Measured on switch-heavy code: the ingest process took ~30,000 page faults a run of about a second, about a tenth of
its CPU; with the settings below, ~8,000.

Only the ingest process calls `keep_freed_memory` (viz.ingest.launch), never the program's (the recorder's child runs
with the malloc it would have alone). Not the app nor `viz record`'s process either: they hold a trace whose columns
keep growing, and a heap that keeps everything fragments under them (the app's peak on the 25 M-event flood went from
316 to 410 MiB). Anything but glibc (or no ctypes) leaves the heap as it is.

`quiet_collector()` is for a process that runs one session to its end (`viz record`'s: viz.cli `_record`; the ingest
process: viz.ingest.process `main`): what its imports built lives as long as the process, so it is frozen (the
collector never looks at it again), and a young collection runs every YOUNG_THRESHOLD allocations, not every 700. The
records are made untracked (viz/ingest/_derive.c) and freed once folded or framed, but each young collection still
walks every list of them waiting to be sent: in the ingest process of a switch-heavy run, ~1,900 collections took
8-10 % of its CPU.
"""

from __future__ import annotations

import gc
import sys

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # glibc's malloc.h
MMAP_THRESHOLD = 32 << 20  # blocks up to this size come from the heap (glibc's largest allowed value)
TRIM_THRESHOLD = 128 << 20  # the heap's free top is handed back past this only
TOP_PAD = 16 << 20  # and the heap grows by this much at a time
YOUNG_THRESHOLD = 50_000  # allocations before a young collection (CPython's default is 700)


def keep_freed_memory() -> bool:
    """Tune this process's malloc so freed memory is reused, not returned and faulted in again; False if it cannot
    (not glibc). Memory the process no longer uses stays counted in its resident size, up to its peak."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (ImportError, OSError, AttributeError):  # no ctypes, or a libc without mallopt (musl)
        return False
    done = [mallopt(option, value) == 1 for option, value in
            ((M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD), (M_TOP_PAD, TOP_PAD))]
    return all(done)  # (each is tried: one refused leaves the others in place)


def quiet_collector() -> None:
    """Freeze what the process has built so far and make young collections rare (see the module's docstring)."""
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])

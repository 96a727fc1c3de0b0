"""Build the optional C hot paths: the recorder's switch hook (viz/recorder/_fasthook.c), its asyncio task-step hook
(viz/recorder/_aiohook.c), its GIL sampler (viz/recorder/_cpuclock.c), the viewer's deriver on switch events
(viz/ingest/_derive.c) and the trace model's record folding and trace-file scanning (viz/trace/_fold.c), the trace writers'
encoders (viz/trace/_binary.c, viz/trace/_lines.c);
and ship the top-level scenarios/ folder, the scenarios' one source, inside the package as viz/_scenarios
(viz.scenarios finds it there in an installed copy).

Everything else about the package is in pyproject.toml. If an extension cannot be compiled (no C compiler or no
Python headers), installation goes on and viz uses the same code in pure Python instead (viz.native says which).
"""

from setuptools import Extension, find_packages, setup

RECORD_H = "viz/trace/record.h"  # the record layout _derive.c and _fold.c share: a change rebuilds both
TABLE_H = "viz/recorder/table.h"  # the hash table _fasthook.c and _aiohook.c share

setup(
    packages=find_packages(include=["viz", "viz.*"]) + ["viz._scenarios"],
    package_dir={"viz._scenarios": "scenarios"},
    ext_modules=[
        Extension("viz.recorder._fasthook", ["viz/recorder/_fasthook.c"], depends=[TABLE_H], optional=True),
        Extension("viz.recorder._aiohook", ["viz/recorder/_aiohook.c"], depends=[TABLE_H], optional=True),
        Extension("viz.recorder._cpuclock", ["viz/recorder/_cpuclock.c"], optional=True),
        Extension("viz.ingest._derive", ["viz/ingest/_derive.c"], depends=[RECORD_H], optional=True),
        Extension("viz.trace._fold", ["viz/trace/_fold.c"], depends=[RECORD_H], optional=True),
        Extension("viz.trace._binary", ["viz/trace/_binary.c"], depends=[RECORD_H], optional=True),
        Extension("viz.trace._lines", ["viz/trace/_lines.c"], depends=[RECORD_H], optional=True),
    ],
)

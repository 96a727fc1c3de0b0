"""Build the optional C hot paths: the recorder's switch hook (viz/recorder/_fasthook.c), the viewer's deriver on
switch events (viz/ingest/_derive.c), the trace model's record folding and trace-file scanning (viz/trace/_fold.c)
and the timeline's cell bounds (viz/app/_paint.c).

Everything else about the package is in pyproject.toml. If an extension cannot be compiled (no C compiler or no
Python headers), installation goes on and viz uses the same code in pure Python instead.
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("viz.recorder._fasthook", ["viz/recorder/_fasthook.c"], optional=True),
    Extension("viz.ingest._derive", ["viz/ingest/_derive.c"], optional=True),
    Extension("viz.trace._fold", ["viz/trace/_fold.c"], optional=True),
    Extension("viz.app._paint", ["viz/app/_paint.c"], optional=True),
])

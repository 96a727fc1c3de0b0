"""Build the optional C hot path of the recorder (viz/recorder/_fasthook.c).

Everything else about the package is in pyproject.toml. If the extension cannot be compiled (no C compiler or no
Python headers), installation goes on and viz uses its pure-Python hook instead.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("viz.recorder._fasthook", ["viz/recorder/_fasthook.c"], optional=True)])

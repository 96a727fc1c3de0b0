"""viz: record a concurrent Python program's tasks and play them back as swimlanes.

The package is split the way data flows: `viz.recorder` runs a program in a child process and turns what its tasks do
into trace records, `viz.trace` is the file format and the in-memory model (plain Python, no Textual, no gevent), and
`viz.views` / `viz.app` only read the model to draw it.
"""

__version__ = "0.1.0"

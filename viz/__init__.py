"""viz: record a concurrent Python program's tasks and play them back as swimlanes.

The package is split the way data flows (docs/architecture.md): `viz.recorder` runs inside the traced child
process and sends events over a pipe as `viz.protocol` defines them; `viz.ingest`, in the viewer's process, starts
the child, reads the pipe and derives trace records; `viz.trace` is the record type, the file format and the
in-memory model (plain Python, no Textual, no gevent); `viz.views` and `viz.app` only read the model to draw it.
"""

__version__ = "0.1.0"

"""The trace: its file, JSON Lines (`viz.trace.format`) or binary (`viz.trace.binary`), and the model views read
(`viz.trace.model`).

Importable without Textual or gevent; see docs/trace-format.md for the format field by field.
"""

from viz.trace.format import STATES, VERSION, TraceFileError, TraceWriter, read_records
from viz.trace.model import Span, Trace

__all__ = ["STATES", "VERSION", "Span", "Trace", "TraceFileError", "TraceWriter", "read_records"]

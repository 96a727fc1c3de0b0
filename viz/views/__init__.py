"""Views that need no TUI: text swimlanes for the terminal (`text`) and export to Perfetto / chrome://tracing
(`chrome`). Like every view they read only the trace model."""

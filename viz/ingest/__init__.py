"""The viewer's side of the pipe: start the traced child, read its events, derive trace records, write the file.

`session` spawns `python -m viz.recorder.child` (as `spawn` says: its environment and event pipe) and reads the pipe
(with the run's limits: timeout, records, output lines); `held` is `viz record`'s head start, the same child spawned
before the rest of the viewer loads and held until it is told the script; `derive` turns the child's events (`viz.protocol`) into trace records (`viz.trace.record`), with its hot
path in `_derive.c`. Runs in the viewer's process (the CLI, or the app's feed); never imports gevent or the script.
"""

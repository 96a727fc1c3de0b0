"""The viewer's side of the pipe: start the traced child, read its events, derive trace records, write the file.

`session` spawns `python -m viz.recorder.child` and reads the pipe (with the run's limits: timeout, records, output
lines); `derive` turns the child's events (`viz.protocol`) into trace records (`viz.trace.record`), with its hot
path in `_derive.c`. Runs in the viewer's process (the CLI, or the app's feed); never imports gevent or the script.
"""

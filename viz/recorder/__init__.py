"""The recorder: runs a program in a child process and turns what its tasks do into trace records.

Child side (imported only inside the traced process): `child`, `core`, `greenlets`, `blocking`, `generators`,
`output`, `callsite` (the hook's hot path in C: `_fasthook.c`). Viewer side: `session` (spawn and read) and
`derive` (raw events to records; its hot path in C: `_derive.c`). `wire` is the pipe format both share. Nothing
here imports Textual; only the child side ever imports gevent, and only when the traced script does.
"""

"""The recorder: what runs inside the traced child process, and nothing else.

`child` is the entry point (`python -m viz.recorder.child FD SCRIPT`); it installs the hooks of `core` (the event
buffer and its flusher), `greenlets` (greenlet switches, gevent's hub), `blocking` (the standard library's blocking
calls), `generators` (a profile hook for the script's generators and coroutines), `output` (per-task stdout/stderr)
and `sockets`, `callsite` (how a call is named); `_fasthook.c` is the switch hook's hot path. Events leave through
the pipe as `viz.protocol` defines them. This package imports nothing of viz but `viz.protocol` (a test enforces
it): the viewer's model, Textual and the app never load into the traced program, and gevent only if the script
imports it.
"""

"""The recorder: what runs inside the traced child process, and nothing else.

`child` is the entry point (`python -m viz.recorder.child FD SCRIPT`); it installs the hooks of `core` (the event
buffer and its flusher), `greenlets` (greenlet switches, gevent's hub) with `gevent_sync` (who woke a greenlet
waiting on gevent's Event, queues, semaphores or a join), `blocking`, `locks`, `processes`, `futures` and `stdin` (the
standard library's blocking calls: sleep, sockets, select and poll, locks and queues, child processes and pipes,
futures, reads from stdin) with `socket_pairs` (who wrote to a connection whose two ends are in the program),
`asyncio_loop` with `asyncio_sockets` (asyncio's loop and tasks, its socket I/O), `generators` with `monitoring` (the script's
generators: sys.monitoring on 3.12+, a profile hook on 3.11), `gil` (threads waiting for the GIL), `output`
(per-task stdout/stderr), with `imports` (hooks added when the script imports a module), `sockets` and `callsite`
(how a call is named). The C hot paths: `_fasthook.c` (switches and the generators' profile filter), `_aiohook.c`
(asyncio task steps), `_cpuclock.c` (the GIL sampler). Events leave through the pipe as `viz.protocol` defines
them. This package imports nothing of viz but `viz.protocol` (a test enforces it): the viewer's model, Textual and
the app never load into the traced program, and gevent only if the script imports it.
"""

"""Every wait inside C code is drawn `blocked`, for how long it lasted, with its reason in the program's words (issue 13,
item 1): contended locks naming their holder, semaphores, barriers, conditions, thread start/join, child processes,
pipes, poll objects, queues, futures, multiprocessing and the interpreter waiting for threads at exit.

Each test records a small program with a known timeline in a real child process; the programs order their threads
with events, and sleep only to make the wait being measured.
"""

from __future__ import annotations

import re
import textwrap

from conftest import run_session, spans, texts


def record(script, source: str):
    source = textwrap.dedent(source)
    return run_session(script(source), timeout=20)[1], source


def line_of(source: str, marker: str) -> int:
    """The line of `source` that holds `marker` (the call a span should point at)."""
    found = [n for n, text in enumerate(source.splitlines(), 1) if marker in text]
    assert len(found) == 1, (marker, found)
    return found[0]


def waits(trace, lane: str, reason: str):
    """The lane's blocked spans whose reason starts with `reason`."""
    return [s for s in spans(trace, lane, "blocked") if (s.reason or "").startswith(reason)]


def one_wait(trace, lane: str, reason: str, low: float, high: float):
    """The one blocked span of `lane` for `reason`, asserted to last between `low` and `high` seconds."""
    found = waits(trace, lane, reason)
    assert len(found) == 1, [(s.reason, s.end - s.start) for s in spans(trace, lane, "blocked")]
    span = found[0]
    assert low <= span.end - span.start <= high, (span.reason, span.end - span.start)
    return span


def cpu(trace, lane: str) -> float:
    return sum(s.end - s.start for s in spans(trace, lane, "running"))


def test_a_contended_lock_is_a_blocked_span_as_long_as_the_holder_keeps_it_naming_the_holder(script):
    trace, src = record(script, """\
        import threading, time
        lock, held = threading.Lock(), threading.Event()
        def holder():
            with lock:
                held.set()
                time.sleep(0.3)
        def waiter():
            held.wait()
            with lock:  # contended
                print("got it")
        threads = [threading.Thread(target=holder, name="A"), threading.Thread(target=waiter, name="B")]
        for t in threads: t.start()
        for t in threads: t.join()
        """)
    span = one_wait(trace, "B", "Lock.acquire()", 0.25, 0.6)
    assert span.reason == "Lock.acquire() held by A"
    assert span.line == line_of(src, "# contended")
    assert not span.blocks_loop
    assert cpu(trace, "B") < 0.1  # the wait is not counted as computing
    assert texts(trace, "B") == ["got it"]


def test_an_acquire_with_a_timeout_that_expires_is_blocked_for_the_timeout(script):
    trace, src = record(script, """\
        import threading, time
        lock, held, done = threading.Lock(), threading.Event(), threading.Event()
        def holder():
            with lock:
                held.set()
                done.wait()
        t = threading.Thread(target=holder, name="A")
        t.start()
        held.wait()
        print(lock.acquire(timeout=0.2))  # gives up
        done.set()
        t.join()
        """)
    span = one_wait(trace, "main", "Lock.acquire()", 0.15, 0.45)
    assert span.reason == "Lock.acquire() held by A" and span.line == line_of(src, "# gives up")
    assert texts(trace, "main") == ["False"]


def test_uncontended_locks_and_a_reentered_rlock_record_no_wait(script):
    trace, _ = record(script, """\
        import threading
        lock, rlock, total = threading.Lock(), threading.RLock(), 0
        for i in range(2000):
            with lock:
                total += 1
            with rlock:
                with rlock:
                    total += 1
        with threading.Condition(rlock):
            pass
        print(total, lock.locked())
        """)
    assert spans(trace, "main", "blocked") == []
    assert texts(trace, "main") == ["4000 False"]


def test_an_rlock_held_twice_by_another_thread_is_a_wait_naming_it(script):
    trace, src = record(script, """\
        import threading, time
        rlock, held = threading.RLock(), threading.Event()
        def holder():
            with rlock:
                with rlock:
                    held.set()
                    time.sleep(0.3)
        t = threading.Thread(target=holder, name="owner")
        t.start()
        held.wait()
        with rlock:  # waits for owner
            print("mine")
        t.join()
        """)
    span = one_wait(trace, "main", "RLock.acquire()", 0.25, 0.6)
    assert span.reason == "RLock.acquire() held by owner" and span.line == line_of(src, "# waits for owner")


def test_a_condition_on_a_program_lock_works_and_wait_for_is_named_as_called(script):
    trace, src = record(script, """\
        import threading, time
        cond, ready = threading.Condition(threading.Lock()), []
        def setter():
            time.sleep(0.2)
            with cond:
                ready.append(1)
                cond.notify_all()
        t = threading.Thread(target=setter, name="setter")
        t.start()
        with cond:
            cond.wait_for(lambda: ready)  # until set
            print("woke", ready)
        t.join()
        """)
    span = one_wait(trace, "main", "Condition.wait_for()", 0.15, 0.5)
    assert span.line == line_of(src, "# until set")
    assert not waits(trace, "main", "Condition.wait()")
    assert texts(trace, "main") == ["woke [1]"]


def test_semaphores_are_blocked_on_acquire_not_on_their_inner_condition(script):
    trace, src = record(script, """\
        import threading, time
        sem, bounded, held = threading.Semaphore(1), threading.BoundedSemaphore(1), threading.Event()
        def holder():
            with sem:
                bounded.acquire()
                held.set()
                time.sleep(0.2)
            time.sleep(0.1)
            bounded.release()
        t = threading.Thread(target=holder, name="holder")
        t.start()
        held.wait()
        with sem:  # first
            pass
        with bounded:  # second
            pass
        t.join()
        """)
    first = one_wait(trace, "main", "Semaphore.acquire()", 0.15, 0.45)
    second = one_wait(trace, "main", "BoundedSemaphore.acquire()", 0.05, 0.3)
    assert (first.line, second.line) == (line_of(src, "# first"), line_of(src, "# second"))
    assert not waits(trace, "main", "Condition.wait()")


def test_threads_on_a_barrier_wait_for_the_last_to_arrive_and_say_how_many_came(script):
    trace, _ = record(script, """\
        import threading, time
        barrier = threading.Barrier(3)
        def arrive(delay):
            time.sleep(delay)
            barrier.wait()
        threads = [threading.Thread(target=arrive, args=(d,)) for d in (0, 0.15, 0.3)]
        for t in threads: t.start()
        for t in threads: t.join()
        """)
    first = one_wait(trace, "arrive(0)", "Barrier.wait()", 0.25, 0.55)
    second = one_wait(trace, "arrive(0.15)", "Barrier.wait()", 0.1, 0.4)
    assert first.reason == "Barrier.wait() (1 of 3 arrived)" and second.reason == "Barrier.wait() (2 of 3 arrived)"
    assert not waits(trace, "arrive(0.3)", "Barrier.wait()")  # the last one releases the others


def test_thread_start_and_join_are_named_after_the_thread_not_its_inner_event(script):
    trace, src = record(script, """\
        import threading, time
        def worker(n):
            time.sleep(0.3)
        t = threading.Thread(target=worker, args=(1,))
        t.start()  # start
        t.join()  # join
        t.join()  # already finished
        """)
    start = one_wait(trace, "main", "start (worker(1))", 0.0, 0.2)
    join = one_wait(trace, "main", "join (worker(1))", 0.25, 0.6)
    assert (start.line, join.line) == (line_of(src, "# start"), line_of(src, "# join"))
    assert not waits(trace, "main", "Event.wait()")
    assert len(spans(trace, "main", "blocked")) == 2  # joining a finished thread is not a wait


def test_subprocess_run_is_blocked_on_the_child_naming_its_pid_and_command(script):
    trace, src = record(script, """\
        import subprocess
        subprocess.run(["sleep", "0.3"])  # run
        """)
    run = one_wait(trace, "main", "waiting for pid", 0.25, 0.6)
    assert re.fullmatch(r"waiting for pid \d+ \(sleep 0\.3\)", run.reason) and run.line == line_of(src, "# run")
    assert cpu(trace, "main") < 0.2


def test_waitpid_names_the_pid_and_command_of_a_popen_child(script):
    trace, src = record(script, """\
        import os, subprocess
        p = subprocess.Popen(["sleep", "0.2"])
        os.waitpid(p.pid, 0)  # waitpid
        print(p.pid)
        """)
    pid = texts(trace, "main")[0]
    span = one_wait(trace, "main", "waiting for pid", 0.15, 0.5)
    assert span.reason == f"waiting for pid {pid} (sleep 0.2)" and span.line == line_of(src, "# waitpid")


def test_a_pipe_read_waits_for_its_writer_and_a_regular_file_read_is_not_a_wait(script):
    trace, src = record(script, """\
        import os, threading, time
        r, w = os.pipe()
        def writer():
            time.sleep(0.2)
            os.write(w, b"hello")
        t = threading.Thread(target=writer, name="writer")
        t.start()
        print(os.read(r, 5), r)  # pipe
        os.write(w, b"again")
        os.read(r, 5)  # ready at once
        with open(__file__, "rb") as f:
            os.read(f.fileno(), 10)
        t.join()
        """)
    fd = texts(trace, "main")[0].split()[-1]
    span = one_wait(trace, "main", "os.read()", 0.15, 0.5)
    assert span.reason == f"os.read() on fd {fd} (pipe)" and span.line == line_of(src, "# pipe")
    assert not waits(trace, "writer", "os.write()")  # the pipe had room


def test_a_poll_object_used_directly_is_blocked_on_its_fds_and_a_zero_timeout_poll_is_not_a_wait(script):
    trace, src = record(script, """\
        import os, select, threading, time
        r, w = os.pipe()
        p = select.poll()
        p.register(r, select.POLLIN)
        p.poll(0)
        select.select([r], [], [], 0)
        def writer():
            time.sleep(0.2)
            os.write(w, b"x")
        t = threading.Thread(target=writer, name="writer")
        t.start()
        print(p.poll(), r)  # poll
        t.join()
        """)
    fd = texts(trace, "main")[0].split()[-1]
    span = one_wait(trace, "main", "poll()", 0.15, 0.5)  # and not the poll(0) or select(…, 0), which only look
    assert not waits(trace, "main", "select()")
    assert span.reason == f"poll() on fds [{fd} (read)]" and span.line == line_of(src, "# poll")


def test_simplequeue_get_and_future_result_wait_for_the_producer_naming_the_job(script):
    trace, src = record(script, """\
        import queue, threading, time
        from concurrent.futures import ThreadPoolExecutor
        q = queue.SimpleQueue()
        def job(n, delay):
            time.sleep(delay)
            return n
        t = threading.Thread(target=lambda: (time.sleep(0.2), q.put(1)), name="producer")
        t.start()
        q.get()  # simple
        t.join()
        with ThreadPoolExecutor(2) as pool:
            pool.submit(job, 2, 0.3).result()  # result
            print(list(pool.map(job, [3, 4], [0.1, 0.2])))  # map
        """)
    one_wait(trace, "main", "SimpleQueue.get()", 0.15, 0.5)
    result = one_wait(trace, "main", "Future.result() (job(2, 0.3))", 0.25, 0.6)
    assert result.line == line_of(src, "# result")
    mapped = one_wait(trace, "main", "Future.result() (job(3, 0.1))", 0.05, 0.35)  # the map's first result
    assert mapped.line == line_of(src, "# map")
    assert not waits(trace, "main", "Event.wait()") and not waits(trace, "main", "Condition.wait()")
    assert texts(trace, "main") == ["[3, 4]"]
    # the pool's workers: blocked in their jobs, and between jobs idle, waiting for work (not a SimpleQueue.get())
    worker = "ThreadPoolExecutor-0_0"
    assert waits(trace, worker, "time.sleep(0.3)") and waits(trace, worker, "waiting for work")
    assert not waits(trace, worker, "SimpleQueue.get()")


def test_multiprocessing_join_and_queue_get_wait_for_the_child_process(script):
    trace, src = record(script, """\
        import multiprocessing, time
        def child(q):
            time.sleep(0.2)
            q.put("hi")
            time.sleep(0.1)
        if __name__ == "__main__":
            q = multiprocessing.get_context("fork").Queue()
            p = multiprocessing.get_context("fork").Process(target=child, args=(q,))
            p.start()
            print(q.get())  # get
            p.join()  # join
        """)
    get = one_wait(trace, "main", "Queue.get()", 0.12, 0.5)
    join = one_wait(trace, "main", "join (", 0.04, 0.35)
    assert re.fullmatch(r"join \(\w*Process-1, pid \d+\)", join.reason)
    assert (get.line, join.line) == (line_of(src, "# get"), line_of(src, "# join"))
    assert texts(trace, "main") == ["hi"]


def test_main_waits_at_exit_for_the_threads_still_running(script):
    trace, _ = record(script, """\
        import threading, time
        def worker(n):
            time.sleep(0.3)
        for n in (1, 2):
            threading.Thread(target=worker, args=(n,)).start()
        threading.Thread(target=time.sleep, args=(5,), daemon=True).start()
        """)
    span = one_wait(trace, "main", "waiting for threads at exit", 0.25, 0.6)
    assert span.reason == "waiting for threads at exit: worker(1), worker(2)"


def test_an_unpatched_lock_taken_under_a_gevent_hub_blocks_the_whole_loop(script):
    trace, _ = record(script, """\
        import threading, time, gevent
        lock, held = threading.Lock(), threading.Event()
        def holder():
            with lock:
                held.set()
                time.sleep(0.3)
        threading.Thread(target=holder, name="holder").start()
        held.wait()
        def grab():
            with lock:
                print("got")
        def tick():
            gevent.sleep(0.05)
            print("tick")
        gevent.joinall([gevent.spawn(grab), gevent.spawn(tick)])
        """)
    span = one_wait(trace, "grab", "Lock.acquire()", 0.25, 0.6)
    assert span.reason == "Lock.acquire() held by holder" and span.blocks_loop
    # the ticker's 0.05 s sleep could not even begin until the lock came free
    assert spans(trace, "tick", "blocked")[0].start >= span.end - 0.01


def test_a_pool_map_and_a_pipe_recv_wait_for_the_worker_processes(script):
    trace, src = record(script, """\
        import multiprocessing, time
        def slow(delay):
            time.sleep(delay)
            return delay
        def send_later(conn):
            time.sleep(0.2)
            conn.send("hi")
        if __name__ == "__main__":
            ctx = multiprocessing.get_context("fork")
            here, there = ctx.Pipe()
            p = ctx.Process(target=send_later, args=(there,))
            p.start()
            print(here.recv())  # recv
            p.join()
            with ctx.Pool(1) as pool:
                print(pool.map(slow, [0.2]))  # map
        """)
    recv = one_wait(trace, "main", "Connection.recv()", 0.12, 0.5)
    mapped = one_wait(trace, "main", "Pool.map(slow)", 0.15, 0.5)
    assert (recv.line, mapped.line) == (line_of(src, "# recv"), line_of(src, "# map"))
    assert texts(trace, "main") == ["hi", "[0.2]"]


def test_a_timer_thread_waits_out_its_interval_in_its_own_words(script):
    trace, _ = record(script, """\
        import threading
        t = threading.Timer(0.2, print, ("fired",))
        t.start()
        t.join()
        """)
    one_wait(trace, "Thread-1", "Timer(0.2)", 0.15, 0.5)
    assert texts(trace, "Thread-1") == ["fired"]


def test_under_gevents_patched_threading_start_and_join_are_cooperative_not_loop_holders(script):
    trace, src = record(script, """\
        from gevent import monkey; monkey.patch_all()
        import threading, time, gevent
        def worker():
            time.sleep(0.2)
        t = threading.Thread(target=worker, name="w")
        t.start()
        t.join()  # join
        """)
    blocked = spans(trace, "main", "blocked")
    assert not [s for s in blocked if s.blocks_loop], [(s.reason, s.blocks_loop) for s in blocked]
    join = one_wait(trace, "main", "t.join()", 0.15, 0.5)  # the greenlet hook's words: a switch to the hub
    assert join.line == line_of(src, "# join")


def test_select_selectors_and_poll_say_which_fds_they_wait_to_write(script):
    trace, src = record(script, """\
        import os, select, selectors, socket
        full, other = socket.socketpair()
        full.setblocking(False)
        try:
            while True:
                full.send(b"x" * 65536)
        except BlockingIOError:
            pass  # its buffer is full: waiting to write to it is a wait
        r, w = os.pipe()
        select.select([r], [full], [], 0.15)  # plain select
        sel = selectors.DefaultSelector()
        sel.register(full, selectors.EVENT_WRITE)
        sel.register(r, selectors.EVENT_READ)
        sel.select(0.15)  # selector
        p = select.poll()
        p.register(full, select.POLLOUT)
        p.register(r, select.POLLIN)
        p.poll(150)  # poll
        print(full.fileno(), r)
        """)
    s, r = texts(trace, "main")[0].split()
    lo, hi = sorted((int(s), int(r)))
    on_fds = waits(trace, "main", "select() on fds")
    assert [(x.reason, x.line) for x in on_fds] == [
        (f"select() on fds [{lo}, {hi}] (write: [{s}])", line_of(src, "# plain select")),
        (f"select() on fds [{lo}, {hi}] (write: [{s}])", line_of(src, "# selector"))]
    assert all(0.1 <= x.end - x.start <= 0.4 for x in on_fds)
    polled = one_wait(trace, "main", "poll() on fds", 0.1, 0.4)
    assert polled.reason == f"poll() on fds [{lo} ({'write' if lo == int(s) else 'read'}), " \
                            f"{hi} ({'write' if hi == int(s) else 'read'})]"


def test_a_lock_held_by_a_sleeping_greenlet_names_that_greenlet_and_holds_the_loop(script):
    trace, src = record(script, """\
        import threading, gevent
        lock = threading.Lock()
        def sleeper():
            with lock:
                gevent.sleep(0.3)
        def taker():
            print(lock.acquire(timeout=0.2))  # gives up
        gevent.joinall([gevent.spawn(sleeper), gevent.spawn(taker)])
        """)
    span = one_wait(trace, "taker", "Lock.acquire()", 0.15, 0.45)
    assert span.reason == "Lock.acquire() held by sleeper" and span.blocks_loop
    assert span.line == line_of(src, "# gives up") and texts(trace, "taker") == ["False"]


def test_queue_join_and_the_end_of_an_executors_with_block_wait_in_their_own_words(script):
    trace, src = record(script, """\
        import queue, threading, time
        from concurrent.futures import ThreadPoolExecutor
        q = queue.Queue()
        def worker():
            q.get()
            time.sleep(0.2)
            q.task_done()
        threading.Thread(target=worker, daemon=True).start()
        q.put(1)
        q.join()  # all done
        with ThreadPoolExecutor(1) as pool:  # shutdown
            pool.submit(time.sleep, 0.2)
        """)
    joined = one_wait(trace, "main", "Queue.join()", 0.15, 0.5)
    shutdown = one_wait(trace, "main", "ThreadPoolExecutor.shutdown()", 0.15, 0.5)
    assert joined.line == line_of(src, "# all done")
    assert shutdown.line in (line_of(src, "# shutdown"), line_of(src, "# shutdown") + 1)  # 3.11: the with; 3.12+: its end
    assert not waits(trace, "main", "join (") and not waits(trace, "main", "Condition.wait()")

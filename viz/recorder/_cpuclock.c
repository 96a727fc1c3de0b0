/* _cpuclock: which of the traced program's threads get the CPU, and which wait for the GIL.
 *
 * A thread the recorder shows `running` may not run at all: in CPython only the thread that holds the GIL runs
 * Python code, and the others wait for it. Nothing in Python says so, and a Python thread that looked would have to
 * take the GIL itself. So a native thread (`Sampler`) that never touches the GIL reads, every millisecond, the CPU
 * clock of each registered thread the recorder shows running (pthread_getcpuclockid: exact to the nanosecond, the
 * slice in progress included; /proc/self/task/TID/schedstat is not, it moves at the kernel's ticks) and, for one
 * that barely ran, its run state (/proc/self/task/TID/stat: `R` is on a CPU or waiting for one, which is the
 * machine's business, not the GIL's). A wait starts when a thread shown running
 *   - was asleep for most of a tick while the other running threads were on a CPU (or waiting for one) for at
 *     least half of it, from when it stopped running (or from when it became runnable without running, if it
 *     went to sleep after that: on its way back into take_gil);
 *   - or stopped running in the tick in which another thread's wait ended: a handoff (this also catches a tick
 *     that came late, with both threads' runs in it, on a busy machine);
 *   - or ran, then slept through the tick's end while the others were busy: it gave the GIL away, and a thread
 *     that ran in that tick with no wait of its own ending, their turns adding up to the tick or less, waited
 *     while it ran (a tick that came late holds both turns: drawn as one each, the giver's first);
 * and ends when the thread runs again (0.3 ms in a tick, or a quarter of it), or when it is runnable while the
 * others sleep (the GIL is free then: it waits for a CPU, which is the machine's business). It counts as a wait for
 * the GIL only if the thread kept waking, as CPython's take_gil does every switch interval to ask the holder to drop
 * it: a thread asleep in a lock or in a C call nobody wrapped does not, and its wait is dropped once it has slept
 * through two switch intervals (it is a wait in C code: below). Waits shorter than `min_wait` are dropped too. The
 * ticks stop while no thread is shown running and no wait is open.
 *
 * The recorder's hooks tell the sampler which task each thread is running (`Wrap` sits in front of Recorder.state
 * and Recorder.end), and a thread emits its own finished waits before any state of its own goes into the event
 * buffer, so each task's events stay in time order; a Python thread of viz.recorder.gil drains the rest. A wait
 * becomes two TASK_STATE events: `ready` "waiting for the GIL" at its start, `running` at its end (info
 * {"gil": True}); the deriver applies them over a running span only (see viz/ingest/derive.py).
 *
 * The same ticks find waits in C code nobody wrapped (a ctypes call, flock, a C extension's blocking read): a thread
 * shown running that takes no CPU time at all, asleep (state S: not runnable, and not in a disk read or a page
 * fault, D, which is the machine's business as a wait for a CPU is), for longer than a GIL waiter sleeps between its
 * wakes (`limit`, following sys.setswitchinterval), is asleep in C code until it runs again (watch_asleep). The
 * recorder's own waits in a program thread (a flush waiting for the pipe) are left out (Sampler.quiet). The drain thread reads what it calls
 * meanwhile (Sampler.asleep, Sampler.describe: `libc.usleep(300000) (asleep in C code)`), and the wait becomes a
 * `blocked` event (info {"asleep": True}) and a `running` one (info {"gil": True}), laid over a running span only,
 * as a GIL wait is. A thread that runs an event loop (Sampler.loop) sleeps in its polls: the recorder draws those as
 * the loop's idle time, and they are not waits. Sampling starts with the first thread registered (a thread alone can
 * sleep in C code); with one thread shown running, a tick comes every LONE_TICKS periods.
 * Linux only (the build is optional: without it the recorder notes that GIL waits are not shown).
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define RAN 0.0003  /* seconds on a CPU in one tick that mean a thread ran, not just woke (take_gil's wakes take
                    * microseconds); a quarter of the tick counts too, should the sampler itself be slow to wake */

typedef struct {
    double a, b;
    long long task;
    int asleep;                  /* 1: asleep in C code (blocked), 0: waiting for the GIL (ready) */
    PyObject *reason, *file, *line;  /* an asleep wait's call, where (owned; NULL: not described) */
} Wait;

typedef struct {
    pthread_t th;
    long tid;                    /* the kernel's thread id: a pthread_t is reused once its thread is gone */
    int fd;                      /* /proc/self/task/TID/stat, or -1 */
    clockid_t cid;               /* the thread's CPU clock */
    int dead;                    /* its file could not be read: the thread is gone */
    long long own;               /* the thread's own task */
    long long task;              /* the task it runs now (asyncio: the coroutine's) */
    int running;                 /* the recorder shows `task` running */
    double since;                /* ... since then: no wait starts earlier */
    int primed;
    double prev_t;
    double prev_cpu;
    double dt, run;              /* the latest tick: its length, the thread's time on a CPU in it */
    double r_since;              /* runnable but off a CPU since then (or -1) */
    int busy;                    /* in the latest tick: -1 not known yet, 1 it ran or wanted to, 0 asleep */
    int closed;                  /* a wait of its ended in the latest tick */
    int open, rejected;          /* a wait in progress, and whether it has shown it is not the GIL's */
    double asleep_from;          /* shown running, but no CPU time at all since then (or -1) */
    double ran_until;            /* the earliest it can have stopped running in the last tick it ran (or -1) */
    double last_end;             /* the end of its last wait pushed: the next one begins no earlier */
    int asleep;                  /* ... long enough to be a wait in C code: open until it runs again */
    unsigned long asleep_seq;    /* counts those waits: a description is for the one it was asked for */
    int asked;                   /* the drain thread was asked to describe the open one (Sampler.asleep)... */
    double asked_cpu;            /* ... when the thread's CPU clock read this */
    int described;               /* ... and did: its call and place (below), from Sampler.describe */
    int loop;                    /* it runs an event loop (a gevent hub, an asyncio loop): its sleeps are polls */
    int quiet;                   /* it is in the recorder's own code (a flush): its sleeps are not the program's */
    char pstate;                 /* its run state when last read (R, S, D...), 0 if not known */
    PyObject *d_reason, *d_file, *d_line;
    double a, last_wake;
    long long wtask;
    Wait *pend;                  /* finished waits not emitted yet */
    int npend, cap;
} Slot;

typedef struct {
    PyObject_HEAD
    PyObject *emit, *kind;
    double t0, period, min_wait, limit;  /* limit: asleep longer than this is no GIL wait (take_gil wakes) */
    pthread_mutex_t mu;
    pthread_cond_t cv;           /* the sampler thread waits on it for a second thread */
    pthread_cond_t waits_cv;     /* drain threads wait on it for finished waits */
    int npend;                   /* finished waits held in all slots */
    Slot **slots;
    int nslots, cap, live;
    double now;                  /* of the tick in progress */
    int started, stop;
    unsigned long long ticks, waits, dropped;
} Sampler;

static PyObject *str_ready, *str_running, *str_reason, *str_blocked, *str_asleep;
/* The calling thread's slot, so a state costs no search: set when it registers, cleared when its task ends. */
static __thread Sampler *my_sampler;
static __thread Slot *my_slot;
static PyObject *gil_info;  /* {"gil": True}: the info of the running event that ends a wait (never changed) */
static PyObject *asleep_info;  /* {"asleep": True}: the info of the blocked event that begins a wait in C code */

static double now_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cpu_time(Slot *s, double *t) {
    struct timespec ts;
    if (clock_gettime(s->cid, &ts) != 0) return -1;
    *t = (double)ts.tv_sec + ts.tv_nsec * 1e-9;
    return 0;
}

/* 1 if the thread is on a CPU or waiting for one (state R), 0 if not, -1 if it is gone. */
static int runnable(Slot *s) {
    if (s->fd < 0) return 0;
    char buf[512];
    ssize_t n = pread(s->fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *p = strrchr(buf, ')');  /* "TID (name) S ...": the name may hold anything */
    s->pstate = p != NULL && p[1] == ' ' ? p[2] : 0;
    return s->pstate == 'R';
}

/* Did the thread run, or want to, for at least `part` of the latest tick? */
static int busy(Slot *s, double part) {
    if (s->run >= s->dt * part) return 1;
    if (s->busy < 0) s->busy = runnable(s) == 1;
    return s->busy;
}

static void pend(Sampler *S, Slot *s, Wait w) {
    if (s->npend == s->cap) {
        int cap = s->cap ? s->cap * 2 : 16;
        Wait *p = realloc(s->pend, sizeof(Wait) * cap);
        if (p == NULL) return;
        s->pend = p;
        s->cap = cap;
    }
    s->pend[s->npend++] = w;
    S->waits++;
    if (S->npend++ == 0) pthread_cond_signal(&S->waits_cv);
}

static void push_wait(Sampler *S, Slot *s, double b) {
    s->open = 0;
    if (s->rejected || b - s->a < S->min_wait) {
        S->dropped++;
        return;
    }
    pend(S, s, (Wait){s->a, b, s->wtask, 0});
    s->last_end = b;
}

/* A wait in C code ends at `b`: the thread runs again (it took CPU time, or is about to: runnable); b < 0: it was
 * still asleep when the program ended. Its description, if any, goes with it (no reference counts change: the
 * sampler thread may be the caller). */
static void push_asleep(Sampler *S, Slot *s, double b) {
    s->asleep = 0;
    if (b >= 0.0 && b < s->asleep_from) b = s->asleep_from;
    pend(S, s, (Wait){s->asleep_from, b, s->task, 1, s->d_reason, s->d_file, s->d_line});
    if (b >= 0.0) s->last_end = b;
    s->d_reason = s->d_file = s->d_line = NULL;
    s->asked = s->described = 0;
    s->asleep_from = -1.0;
}

/* Waits in C code nobody wrapped (a ctypes call, flock, a C extension's blocking read): a thread shown running that
 * takes no CPU time at all, and is not runnable, for longer than a GIL waiter ever sleeps between its wakes
 * (`limit`) is asleep in C code, a wait: drawn blocked, "asleep in C code", from the tick it was first seen asleep
 * until it runs again. A thread waiting for the GIL wakes every switch interval (CPU time), and one preempted by the
 * machine is runnable: neither is taken for one. */
static void watch_asleep(Sampler *S, Slot *s, double now) {
    if (s->loop || s->quiet) return;  /* the recorder draws a loop's polls (idle); its own waits are not waits */
    if (s->run > 0.0 || busy(s, 1.0)) {
        double ran = s->run < s->dt ? s->run : s->dt;
        s->ran_until = now - s->dt + ran;  /* (had it run at the tick's start) */
        if (s->asleep) {  /* it woke, then ran to the tick's end: no earlier sleep of its can begin before that */
            push_asleep(S, s, now - ran);
            s->ran_until = now;
        }
        s->asleep_from = -1.0;
        return;
    }
    if (s->pstate != 'S' && s->pstate != 0) {  /* D: a disk read or a page fault, the machine's business as a */
        if (!s->asleep) s->asleep_from = -1.0;  /* wait for a CPU is (an import under load is no wait in C code) */
        return;
    }
    if (s->asleep_from < 0.0) {
        double from = s->ran_until >= 0.0 && s->ran_until < now - s->dt ? s->ran_until : now - s->dt;
        if (from < s->since) from = s->since;
        if (from < s->last_end) from = s->last_end;
        s->asleep_from = from;
        s->ran_until = -1.0;  /* (of the tick just before this one only) */
    }
    if (!s->asleep && now - s->asleep_from > S->limit) {
        s->asleep = 1;
        s->asleep_seq++;
        if (s->open) {  /* what looked like a GIL wait is this one: dropped now (no more 1 ms ticks for it) */
            s->rejected = 1;
            push_wait(S, s, now);
        }
        pthread_cond_signal(&S->waits_cv);  /* the drain thread describes it (Sampler.asleep, Sampler.describe) */
    }
}

/* The other running threads' time on a CPU or waiting for one, in the latest tick (counted up to half of it). */
static double others_busy(Sampler *S, Slot *s, double total) {
    double others = total - s->run, dt = s->dt;
    for (int j = 0; j < S->nslots && others < dt * 0.5; j++) {
        Slot *o = S->slots[j];
        if (o != s && o->dt > 0.0 && o->run < dt * 0.5 && busy(o, 0.5)) others += dt - o->run;  /* preempted */
    }
    return others;
}

static void open_wait(Sampler *S, Slot *s, double a) {
    if (a < s->since) a = s->since;
    s->open = 1;
    s->rejected = 0;
    s->a = a;
    /* awake (or waiting for a CPU) until this tick, or in it: a late tick does not say when it woke */
    s->last_wake = s->run > 0.0 || s->busy == 1 ? S->now : S->now - s->dt;
    s->wtask = s->task;
    s->r_since = -1.0;
    Wait *last = s->npend ? &s->pend[s->npend - 1] : NULL;
    if (last != NULL && !last->asleep && last->task == s->task && a - last->b < S->min_wait) {
        s->a = last->a;  /* it ran for less than a wait counts: one wait, not two */
        s->npend--;
        S->npend--;
        S->waits--;
    }
}

/* A tick in which one thread ran, then gave the GIL away (it sleeps at the tick's end), and the threads' turns add
 * up to the tick or less: another thread that ran in it without a wait of its own ending there waited while the
 * first one ran. A late tick (the sampler itself kept off a CPU on a busy machine) can hold both turns; it is
 * drawn as one turn each, the giver's first. */
static void took_over(Sampler *S, double now, double total) {
    for (int i = 0; i < S->nslots; i++) {
        Slot *s = S->slots[i];
        double dt = s->dt, ran = s->run;
        if (dt <= 0.0 || s->open || s->closed || (ran < dt * 0.25 && ran < RAN)) continue;
        if (total < dt * 0.5 || total > dt * 1.1) continue;
        double a = now - dt > s->since ? now - dt : s->since, b = now - (ran < dt ? ran : dt);
        if (b - a >= S->min_wait) {
            open_wait(S, s, a);
            push_wait(S, s, b);
        }
    }
}

/* One sample of every registered thread the recorder shows running (mutex held). */
static void tick(Sampler *S, double now) {
    double total = 0.0;
    S->now = now;
    for (int i = 0; i < S->nslots; i++) {
        Slot *s = S->slots[i];
        double cpu;
        s->dt = 0.0;
        if (s->dead || !s->running) {
            s->primed = 0;
            s->r_since = -1.0;
            s->asleep_from = s->ran_until = -1.0;
            continue;
        }
        if (cpu_time(s, &cpu) != 0) {
            s->dead = 1;
            s->open = 0;
            S->live--;
            continue;
        }
        if (s->primed) {
            s->dt = now - s->prev_t;
            s->run = cpu - s->prev_cpu;
            s->busy = -1;
            total += s->run;
        }
        s->primed = 1;
        s->prev_t = now;
        s->prev_cpu = cpu;
    }
    S->ticks++;
    for (int i = 0; i < S->nslots; i++)
        if (S->slots[i]->dt > 0.0) watch_asleep(S, S->slots[i], now);
    /* Threads that ran: a wait of theirs is over, and whoever stopped running in that tick has handed them the GIL */
    int handoff = 0;
    for (int i = 0; i < S->nslots; i++) {
        Slot *s = S->slots[i];
        s->closed = 0;
        if (s->dt > 0.0 && (s->run >= s->dt * 0.25 || s->run >= RAN)) {
            if (s->open) {
                if (!s->rejected) handoff = 1;  /* it had the GIL handed over (a lock's wake-up is no handoff) */
                push_wait(S, s, now - (s->run < s->dt ? s->run : s->dt));
                s->closed = 1;
            }
            s->r_since = -1.0;
        }
    }
    int gave = 0;  /* a thread ran in this tick, then started waiting: it gave the GIL away */
    for (int i = 0; i < S->nslots; i++) {
        Slot *s = S->slots[i];
        double dt = s->dt, ran = s->run;
        if (dt <= 0.0 || s->closed) continue;
        if (s->asleep && !s->open) continue;  /* asleep in C code: no GIL wait */
        if (ran >= dt * 0.25 || ran >= RAN) {
            /* it ran, then gave the GIL away: to a thread whose wait ended, or to one that runs on (it sleeps at the
             * tick's end while the others are busy: a late tick may hold both threads' turns) */
            if ((handoff && ran < dt * 0.5)
                || (ran < dt * 0.9 && !busy(s, 1.0) && others_busy(S, s, total) >= dt * 0.5))
                open_wait(S, s, now - dt + ran);
            gave |= s->open;
            continue;
        }
        int preempted = busy(s, 1.0);  /* runnable, not running: woken, and waiting for a CPU */
        if (s->open) {
            if (preempted && others_busy(S, s, total) < dt * 0.5) {
                push_wait(S, s, now - dt > s->a ? now - dt : s->a);  /* the others sleep: the GIL is free, it waits */
                s->r_since = -1.0;                                   /* for a CPU, which is the machine's business */
                continue;
            }
            if (ran > 0.0 || preempted) s->last_wake = now;
            if (now - s->last_wake > S->limit) s->rejected = 1;  /* asleep too long for take_gil */
            continue;
        }
        if (preempted && !handoff) {  /* a wait if it goes to sleep next (take_gil), none if it runs */
            if (s->r_since < 0.0) s->r_since = now - dt + ran;
            continue;
        }
        /* asleep while someone else has the CPU (and maybe the GIL), or off the CPU as another took the GIL over */
        if (handoff || others_busy(S, s, total) >= dt * 0.5)
            open_wait(S, s, s->r_since >= 0.0 ? s->r_since : now - dt + ran);
        s->r_since = -1.0;
    }
    if (gave) took_over(S, now, total);
}

/* Ticks are needed every period while two threads are shown running (only then can one wait for the other's GIL),
 * or a GIL wait is still open (2); every LONE_TICKS periods while one thread is, to see it asleep in C code (1),
 * unless that thread runs an event loop. Otherwise (0) the sampler thread sleeps: a program whose threads all
 * block, or whose one thread runs a loop, costs nothing. */
#define LONE_TICKS 4
static int needed(Sampler *S) {
    int running = 0, watched = 0;
    for (int i = 0; i < S->nslots; i++) {
        Slot *s = S->slots[i];
        if (s->dead) continue;
        if (s->open) return 2;
        running += s->running;
        watched += s->running && !s->loop;  /* a loop thread alone sleeps in its polls: nothing to see */
    }
    return running >= 2 ? 2 : watched > 0;
}

static void *sampler_main(void *arg) {
    Sampler *S = (Sampler *)arg;
    pthread_setname_np(pthread_self(), "viz-gil");  /* what top -H and /proc/self/task/TID/comm call it */
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    long step = (long)(S->period * 1e9);
    pthread_mutex_lock(&S->mu);
    while (!S->stop) {
        int need = needed(S);
        if (!need) {
            while (!S->stop && !needed(S)) pthread_cond_wait(&S->cv, &S->mu);
            for (int i = 0; i < S->nslots; i++) {  /* no tick spans the pause */
                S->slots[i]->primed = 0;
                S->slots[i]->ran_until = -1.0;
            }
            clock_gettime(CLOCK_MONOTONIC, &next);
            continue;
        }
        tick(S, now_mono());
        pthread_mutex_unlock(&S->mu);
        if (need == 1) next.tv_nsec += step * (LONE_TICKS - 1);
        next.tv_nsec += step;
        while (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        struct timespec cur;
        clock_gettime(CLOCK_MONOTONIC, &cur);
        if (cur.tv_sec > next.tv_sec || (cur.tv_sec == next.tv_sec && cur.tv_nsec > next.tv_nsec)) next = cur;
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {
        }
        pthread_mutex_lock(&S->mu);
    }
    pthread_mutex_unlock(&S->mu);
    return NULL;
}

static Slot *find(Sampler *S, pthread_t th) {
    for (int i = 0; i < S->nslots; i++)
        if (!S->slots[i]->dead && pthread_equal(S->slots[i]->th, th)) return S->slots[i];
    return NULL;
}

static void free_slot(Slot *s) {  /* (GIL held) */
    if (s->fd >= 0) close(s->fd);
    for (int i = 0; i < s->npend; i++) {
        Py_XDECREF(s->pend[i].reason); Py_XDECREF(s->pend[i].file); Py_XDECREF(s->pend[i].line);
    }
    Py_XDECREF(s->d_reason); Py_XDECREF(s->d_file); Py_XDECREF(s->d_line);
    free(s->pend);
    free(s);
}

/* Move the finished waits of `s` (or of every slot, s == NULL) into a fresh array; remove dead slots. */
static Wait *take(Sampler *S, Slot *s, int *n) {
    int total = 0;
    for (int i = 0; i < S->nslots; i++)
        if (s == NULL || S->slots[i] == s) total += S->slots[i]->npend;
    *n = 0;
    if (total == 0) return NULL;
    Wait *out = malloc(sizeof(Wait) * total);
    if (out == NULL) return NULL;
    for (int i = 0; i < S->nslots; i++) {
        Slot *x = S->slots[i];
        if (s != NULL && x != s) continue;
        memcpy(out + *n, x->pend, sizeof(Wait) * x->npend);
        *n += x->npend;
        S->npend -= x->npend;
        x->npend = 0;
    }
    return out;
}

static void sweep(Sampler *S) {
    int j = 0;
    for (int i = 0; i < S->nslots; i++) {
        Slot *x = S->slots[i];
        if (x->dead && x->npend == 0) free_slot(x);
        else S->slots[j++] = x;
    }
    S->nslots = j;
}

/* A TASK_STATE event; file and line borrowed, NULL for None. */
static PyObject *state_event(Sampler *S, double t, long long task, PyObject *state, PyObject *reason,
                             PyObject *file, PyObject *line, PyObject *info) {
    PyObject *ev = PyTuple_New(8);
    if (ev == NULL) return NULL;
    PyObject *pt = PyFloat_FromDouble(t - S->t0), *ptask = PyLong_FromLongLong(task);
    if (pt == NULL || ptask == NULL) {
        Py_XDECREF(pt);
        Py_XDECREF(ptask);
        Py_DECREF(ev);
        return NULL;
    }
    Py_INCREF(S->kind);
    PyTuple_SET_ITEM(ev, 0, S->kind);
    PyTuple_SET_ITEM(ev, 1, pt);
    PyTuple_SET_ITEM(ev, 2, ptask);
    Py_INCREF(state);
    PyTuple_SET_ITEM(ev, 3, state);
    Py_INCREF(reason);
    PyTuple_SET_ITEM(ev, 4, reason);
    file = file != NULL ? file : Py_None;
    line = line != NULL ? line : Py_None;
    Py_INCREF(file);
    PyTuple_SET_ITEM(ev, 5, file);
    Py_INCREF(line);
    PyTuple_SET_ITEM(ev, 6, line);
    Py_INCREF(info);
    PyTuple_SET_ITEM(ev, 7, info);
    return ev;
}

static int emit_one(Sampler *S, PyObject *ev) {
    if (ev == NULL) return -1;
    PyObject *r = PyObject_CallOneArg(S->emit, ev);
    Py_DECREF(ev);
    if (r == NULL) return -1;
    Py_DECREF(r);
    return 0;
}

/* Each wait as its two events, in order (GIL held, mutex not). */
static int emit_waits(Sampler *S, Wait *w, int n) {
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if (w[i].asleep)
            rc = emit_one(S, state_event(S, w[i].a, w[i].task, str_blocked, w[i].reason ? w[i].reason : str_asleep,
                                         w[i].file, w[i].line, asleep_info));
        else
            rc = emit_one(S, state_event(S, w[i].a, w[i].task, str_ready, str_reason, NULL, NULL, Py_None));
        if (rc == 0 && w[i].b >= 0.0)  /* (b < 0: it was still asleep when the program ended) */
            rc = emit_one(S, state_event(S, w[i].b, w[i].task, str_running, Py_None, NULL, NULL, gil_info));
    }
    for (int i = 0; i < n; i++) {
        Py_XDECREF(w[i].reason); Py_XDECREF(w[i].file); Py_XDECREF(w[i].line);
    }
    free(w);
    return rc;
}

/* The calling thread steps `task` into a state (running or not): its waits so far go out first. */
static int on_state(Sampler *S, long long task, int running, int ending) {
    if (my_sampler != S || my_slot == NULL) return 0;  /* not a thread of the program's (or not sampled) */
    Slot *s = my_slot;
    pthread_mutex_lock(&S->mu);
    if (!s->open && !s->asleep && s->npend == 0 && !ending && s->task == task && s->running == running) {
        pthread_mutex_unlock(&S->mu);  /* nothing to emit, nothing changes: the common case, no clock read */
        return 0;
    }
    double now = now_mono();
    if (s->open) push_wait(S, s, now);  /* it runs Python now: it has the GIL */
    if (s->asleep) push_asleep(S, s, now);  /* ... and is out of its C call (a tick ago at most) */
    s->asleep_from = s->ran_until = -1.0;
    int n;
    Wait *w = take(S, s, &n);
    if (running) {
        if (!s->running || s->task != task) s->since = now;
        if (!s->running) pthread_cond_signal(&S->cv);  /* the sampler may be needed again */
        s->task = task;
        s->running = 1;
    } else if (task == s->task) {
        s->running = 0;
    }
    if (ending && task == s->own) {
        s->dead = 1;
        S->live--;
        sweep(S);
        my_slot = NULL;
    }
    pthread_mutex_unlock(&S->mu);
    return emit_waits(S, w, n);
}

/* ---- Sampler ---------------------------------------------------------------------------------------------- */

static void monotonic_cond(pthread_cond_t *cv) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
}

static void add_seconds(struct timespec *ts, double s) {
    long long ns = ts->tv_nsec + (long long)(s * 1e9);
    ts->tv_sec += ns / 1000000000LL;
    ts->tv_nsec = ns % 1000000000LL;
}

static int Sampler_init(Sampler *S, PyObject *args, PyObject *kw) {
    static char *names[] = {"emit", "kind", "t0", "switch_interval", "period", "min_wait", NULL};
    PyObject *emit, *kind;
    double t0, interval, period = 0.001, min_wait = 0.001;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOdd|dd", names, &emit, &kind, &t0, &interval, &period, &min_wait))
        return -1;
    if (S->emit != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "a Sampler is set up once");
        return -1;
    }
    Py_INCREF(emit);
    Py_INCREF(kind);
    S->emit = emit;
    S->kind = kind;
    S->t0 = t0;
    S->period = period > 0.0001 ? period : 0.0001;
    S->min_wait = min_wait;
    S->limit = 2 * interval + 0.002;  /* take_gil wakes at least once per switch interval while it waits */
    pthread_mutex_init(&S->mu, NULL);
    pthread_cond_init(&S->cv, NULL);
    monotonic_cond(&S->waits_cv);
    return 0;
}

static void Sampler_dealloc(Sampler *S) {
    /* A Sampler lives as long as the traced program (its thread holds a pointer to it): only a never-started one
     * goes away, in tests. */
    if (!S->started) {
        for (int i = 0; i < S->nslots; i++) free_slot(S->slots[i]);
        free(S->slots);
        Py_XDECREF(S->emit);
        Py_XDECREF(S->kind);
        Py_TYPE(S)->tp_free((PyObject *)S);
    }
}

/* The fd moved to a high number: the program's own files get the numbers they get untraced (a trace says "recv()
 * on fd 7", and the same program must say the same with or without the sampler). */
static int high_fd(int fd) {
    struct rlimit rl;
    int base = 4096;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)base)
        base = (int)rl.rlim_cur;
    base -= 64;
    if (fd < 0 || fd >= base) return fd;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, base);
    if (high < 0) return fd;
    close(fd);
    return high;
}

static PyObject *Sampler_register(Sampler *S, PyObject *arg) {
    long long task = PyLong_AsLongLong(arg);
    if (task == -1 && PyErr_Occurred()) return NULL;
    if (S->emit == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Sampler not set up");
        return NULL;
    }
    long tid = (long)syscall(SYS_gettid);
    pthread_mutex_lock(&S->mu);
    Slot *old = find(S, pthread_self());
    if (old != NULL && old->tid == tid) {  /* e.g. a greenlet standing for a thread under gevent */
        pthread_mutex_unlock(&S->mu);
        Py_RETURN_FALSE;
    }
    if (old != NULL) {  /* a thread that is gone (its end was not told: a gevent ThreadPool worker's) left it */
        old->dead = 1;
        old->open = old->asleep = 0;
        S->live--;
    }
    Slot *s = calloc(1, sizeof(Slot));
    Slot **slots = S->nslots == S->cap ? realloc(S->slots, sizeof(Slot *) * (S->cap ? S->cap * 2 : 8)) : S->slots;
    if (s == NULL || slots == NULL) {
        free(s);
        pthread_mutex_unlock(&S->mu);
        return PyErr_NoMemory();
    }
    if (slots != S->slots) {
        S->slots = slots;
        S->cap = S->cap ? S->cap * 2 : 8;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
    s->th = pthread_self();
    s->tid = tid;
    if (pthread_getcpuclockid(s->th, &s->cid) != 0) {
        free(s);
        pthread_mutex_unlock(&S->mu);
        Py_RETURN_FALSE;
    }
    s->fd = high_fd(open(path, O_RDONLY | O_CLOEXEC));  /* without it, a preempted thread may pass for a waiting one */
    s->own = s->task = task;
    s->running = 1;
    s->r_since = -1.0;
    s->asleep_from = s->ran_until = -1.0;
    my_sampler = S;
    my_slot = s;
    s->since = now_mono();
    S->slots[S->nslots++] = s;
    S->live++;
    int start = !S->started && !S->stop;  /* from the first thread on: one alone may sleep in C code */
    if (start) S->started = 1;
    pthread_cond_signal(&S->cv);
    pthread_mutex_unlock(&S->mu);
    if (start) {
        pthread_t th;
        pthread_attr_t attr;
        sigset_t all, old;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 64 * 1024);
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);  /* signals stay the program's threads' business */
        int rc = pthread_create(&th, &attr, sampler_main, S);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
        if (rc != 0) {
            pthread_mutex_lock(&S->mu);
            S->started = 0;
            S->stop = 1;
            pthread_mutex_unlock(&S->mu);
            PyErr_SetString(PyExc_OSError, "could not start the sampler thread");
            return NULL;
        }
        Py_INCREF(S);  /* the thread holds it for good */
    }
    Py_RETURN_TRUE;
}

static PyObject *Sampler_state(Sampler *S, PyObject *args) {
    long long task;
    int running;
    if (!PyArg_ParseTuple(args, "Lp", &task, &running)) return NULL;
    if (on_state(S, task, running, 0) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *Sampler_end(Sampler *S, PyObject *arg) {
    long long task = PyLong_AsLongLong(arg);
    if (task == -1 && PyErr_Occurred()) return NULL;
    if (on_state(S, task, 0, 1) < 0) return NULL;
    Py_RETURN_NONE;
}

/* The calling thread's sleeps are not waits in C code from now on (flag true), or are again (false): `which` is
 * its slot's `loop` or `quiet`. It runs Python code now, so a wait of its in C code is over. */
static PyObject *mark_thread(Sampler *S, PyObject *flag, size_t which) {
    int on = PyObject_IsTrue(flag);
    if (on < 0) return NULL;
    if (my_sampler != S || my_slot == NULL) Py_RETURN_NONE;  /* not a thread of the program's */
    pthread_mutex_lock(&S->mu);
    Slot *s = my_slot;
    *(int *)((char *)s + which) = on;
    if (s->asleep) push_asleep(S, s, now_mono());
    s->asleep_from = s->ran_until = -1.0;
    pthread_mutex_unlock(&S->mu);
    Py_RETURN_NONE;
}

/* loop(flag): the calling thread runs an event loop from now on (or no longer): its sleeps are the loop's polls,
 * which the recorder draws as the loop's idle time, not waits in C code. */
static PyObject *Sampler_loop(Sampler *S, PyObject *flag) { return mark_thread(S, flag, offsetof(Slot, loop)); }

/* quiet(flag): the calling thread enters (True) or leaves (False) the recorder's own code that may wait (a flush
 * waiting for the pipe or for another thread's flush): not a wait of the program's. */
static PyObject *Sampler_quiet(Sampler *S, PyObject *flag) { return mark_thread(S, flag, offsetof(Slot, quiet)); }

/* switch_interval(seconds): the program changed it (sys.setswitchinterval): a GIL waiter wakes that often. */
static PyObject *Sampler_switch_interval(Sampler *S, PyObject *arg) {
    double interval = PyFloat_AsDouble(arg);
    if (interval == -1.0 && PyErr_Occurred()) return NULL;
    pthread_mutex_lock(&S->mu);
    S->limit = 2 * interval + 0.002;
    pthread_mutex_unlock(&S->mu);
    Py_RETURN_NONE;
}

static PyObject *Sampler_drain(Sampler *S, PyObject *unused) {
    int n;
    pthread_mutex_lock(&S->mu);
    Wait *w = take(S, NULL, &n);
    sweep(S);
    pthread_mutex_unlock(&S->mu);
    if (emit_waits(S, w, n) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *Sampler_stop(Sampler *S, PyObject *unused) {
    pthread_mutex_lock(&S->mu);
    double now = now_mono();
    for (int i = 0; i < S->nslots; i++) {  /* a thread still asleep in C code at the end sleeps to the end: no end */
        Slot *s = S->slots[i];
        double cpu;
        if (s->dead || !s->asleep) continue;
        int woke = s->primed && cpu_time(s, &cpu) == 0 && cpu > s->prev_cpu;  /* since the last tick */
        push_asleep(S, s, woke ? now : -1.0);
    }
    S->stop = 1;
    pthread_cond_signal(&S->cv);
    pthread_cond_broadcast(&S->waits_cv);
    pthread_mutex_unlock(&S->mu);
    Py_RETURN_NONE;
}

/* A thread asleep in C code whose call the drain thread has not been asked to describe yet (mutex held). */
static int undescribed(Sampler *S) {
    for (int i = 0; i < S->nslots; i++)
        if (!S->slots[i]->dead && S->slots[i]->asleep && !S->slots[i]->asked) return 1;
    return 0;
}

/* asleep() -> [(thread ident, wait number)] of the threads asleep in C code not asked about yet. */
static PyObject *Sampler_asleep(Sampler *S, PyObject *unused) {
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    pthread_mutex_lock(&S->mu);
    int n = 0;
    unsigned long idents[64], seqs[64];
    for (int i = 0; i < S->nslots && n < 64; i++) {
        Slot *s = S->slots[i];
        if (!s->dead && s->asleep && !s->asked) {  /* asked once: a thread not found stays undescribed */
            s->asked = 1;
            if (cpu_time(s, &s->asked_cpu) != 0) s->asked_cpu = -1.0;
            idents[n] = (unsigned long)s->th;
            seqs[n++] = s->asleep_seq;
        }
    }
    pthread_mutex_unlock(&S->mu);
    for (int i = 0; i < n; i++) {
        PyObject *item = Py_BuildValue("(kk)", idents[i], seqs[i]);
        if (item == NULL || PyList_Append(out, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(item);
    }
    return out;
}

/* describe(ident, seq, reason, file, line): what the thread asleep in C code is calling, and where, for its wait
 * number `seq` (a later wait of the same thread is not described by it). */
static PyObject *Sampler_describe(Sampler *S, PyObject *args) {
    unsigned long ident, seq;
    PyObject *reason, *file, *line;
    if (!PyArg_ParseTuple(args, "kkOOO", &ident, &seq, &reason, &file, &line)) return NULL;
    pthread_mutex_lock(&S->mu);
    for (int i = 0; i < S->nslots; i++) {
        Slot *s = S->slots[i];
        if (s->dead || (unsigned long)s->th != ident) continue;
        double cpu;
        int still = s->asked_cpu >= 0.0 && cpu_time(s, &cpu) == 0 && cpu == s->asked_cpu;  /* has not run since */
        if (still && s->asleep && !s->described && s->asleep_seq == seq) {
            Py_INCREF(reason); Py_INCREF(file); Py_INCREF(line);
            Py_XSETREF(s->d_reason, reason);
            Py_XSETREF(s->d_file, file);
            Py_XSETREF(s->d_line, line);
            s->described = 1;
        }
        break;
    }
    pthread_mutex_unlock(&S->mu);
    Py_RETURN_NONE;
}

static PyObject *Sampler_wait(Sampler *S, PyObject *args) {
    double least, most;
    if (!PyArg_ParseTuple(args, "dd", &least, &most)) return NULL;
    int pending;
    Py_BEGIN_ALLOW_THREADS
    struct timespec until, at_most;
    clock_gettime(CLOCK_MONOTONIC, &until);
    at_most = until;
    add_seconds(&until, least);
    add_seconds(&at_most, most);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR) {
    }
    pthread_mutex_lock(&S->mu);
    while (S->npend == 0 && !undescribed(S) && !S->stop)
        if (pthread_cond_timedwait(&S->waits_cv, &S->mu, &at_most) == ETIMEDOUT) break;
    pending = S->npend > 0 || undescribed(S);
    pthread_mutex_unlock(&S->mu);
    Py_END_ALLOW_THREADS
    return PyBool_FromLong(pending);
}

static PyObject *Sampler_forget(Sampler *S, PyObject *unused) {
    /* In a child made by fork(): the sampler thread is not there and its mutex may be held by it: start again. */
    pthread_mutex_init(&S->mu, NULL);
    pthread_cond_init(&S->cv, NULL);
    monotonic_cond(&S->waits_cv);
    for (int i = 0; i < S->nslots; i++) free_slot(S->slots[i]);
    S->nslots = S->live = S->npend = 0;
    my_slot = NULL;  /* the child's one thread is the one that forked */
    S->stop = 1;
    Py_RETURN_NONE;
}

static PyObject *Sampler_stats(Sampler *S, PyObject *unused) {
    pthread_mutex_lock(&S->mu);
    int fds = 0;
    for (int i = 0; i < S->nslots; i++) fds += S->slots[i]->fd >= 0;
    PyObject *d = Py_BuildValue("{s:K,s:K,s:K,s:i,s:i,s:O}", "ticks", S->ticks, "waits", S->waits, "dropped",
                                S->dropped, "threads", S->live, "run_states", fds,
                                "sampling", S->started && !S->stop ? Py_True : Py_False);
    pthread_mutex_unlock(&S->mu);
    return d;
}

static PyMethodDef Sampler_methods[] = {
    {"register", (PyCFunction)Sampler_register, METH_O,
     "register(task): sample the calling thread, which runs `task` (False if it is sampled already)."},
    {"state", (PyCFunction)Sampler_state, METH_VARARGS,
     "state(task, running): the calling thread steps `task` into a state; its finished waits are emitted first."},
    {"end", (PyCFunction)Sampler_end, METH_O, "end(task): as state(task, False); the thread's own task ends it."},
    {"drain", (PyCFunction)Sampler_drain, METH_NOARGS, "Emit every finished wait."},
    {"quiet", (PyCFunction)Sampler_quiet, METH_O,
     "quiet(flag): the calling thread enters (True) or leaves (False) the recorder's own code that may wait."},
    {"switch_interval", (PyCFunction)Sampler_switch_interval, METH_O,
     "switch_interval(seconds): the program set sys.setswitchinterval: GIL waiters wake that often."},
    {"loop", (PyCFunction)Sampler_loop, METH_O,
     "loop(flag): the calling thread runs an event loop from now on (True) or no longer (False): its sleeps are polls."},
    {"asleep", (PyCFunction)Sampler_asleep, METH_NOARGS,
     "asleep() -> [(thread ident, wait number)]: threads asleep in C code whose call was not asked for yet."},
    {"describe", (PyCFunction)Sampler_describe, METH_VARARGS,
     "describe(ident, seq, reason, file, line): the call and place of a thread's wait in C code number `seq`."},
    {"wait", (PyCFunction)Sampler_wait, METH_VARARGS,
     "wait(least, most): sleep `least` seconds, then until a wait has finished (or a thread asleep in C code waits "
     "to be described) or `most` seconds have passed, all without the GIL; True if there is either."},
    {"stop", (PyCFunction)Sampler_stop, METH_NOARGS, "Stop sampling for good."},
    {"forget", (PyCFunction)Sampler_forget, METH_NOARGS, "After fork(), in the child: sample nothing."},
    {"stats", (PyCFunction)Sampler_stats, METH_NOARGS, "Counts: ticks, waits emitted, waits dropped, threads."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject SamplerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "viz.recorder._cpuclock.Sampler",
    .tp_basicsize = sizeof(Sampler),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Sampler_init,
    .tp_dealloc = (destructor)Sampler_dealloc,
    .tp_methods = Sampler_methods,
    .tp_doc = "Sampler(emit, kind, t0, switch_interval, period=0.001, min_wait=0.001): GIL waits of threads.",
};

/* ---- Wrap: Recorder.state / Recorder.end with the sampler told first --------------------------------------- */

typedef struct {
    PyObject_HEAD
    Sampler *sampler;
    PyObject *fn;
    int ending;
    vectorcallfunc vectorcall;
} Wrap;

static PyObject *Wrap_vectorcall(Wrap *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    Py_ssize_t n = PyVectorcall_NARGS(nargsf);
    if (n >= (self->ending ? 1 : 2) && PyLong_CheckExact(args[0])) {
        long long task = PyLong_AsLongLong(args[0]);
        int running = !self->ending && (args[1] == str_running ||
                                        (PyUnicode_Check(args[1]) && PyUnicode_Compare(args[1], str_running) == 0));
        if (task == -1 && PyErr_Occurred()) PyErr_Clear();
        else if (on_state(self->sampler, task, running, self->ending) < 0) return NULL;
    }
    return PyObject_Vectorcall(self->fn, args, nargsf, kwnames);
}

static int Wrap_init(Wrap *self, PyObject *args, PyObject *kw) {
    PyObject *sampler, *fn;
    int ending = 0;
    if (!PyArg_ParseTuple(args, "O!O|p", &SamplerType, &sampler, &fn, &ending)) return -1;
    Py_INCREF(sampler);
    Py_INCREF(fn);
    Py_XSETREF(self->sampler, (Sampler *)sampler);
    Py_XSETREF(self->fn, fn);
    self->ending = ending;
    self->vectorcall = (vectorcallfunc)Wrap_vectorcall;
    return 0;
}

static void Wrap_dealloc(Wrap *self) {
    Py_XDECREF(self->sampler);
    Py_XDECREF(self->fn);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Wrap_get_wrapped(Wrap *self, void *closure) {
    Py_INCREF(self->fn);
    return self->fn;
}

static PyGetSetDef Wrap_getset[] = {
    {"__wrapped__", (getter)Wrap_get_wrapped, NULL, "The wrapped function.", NULL},
    {NULL},
};

static PyTypeObject WrapType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "viz.recorder._cpuclock.Wrap",
    .tp_basicsize = sizeof(Wrap),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(Wrap, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Wrap_init,
    .tp_dealloc = (destructor)Wrap_dealloc,
    .tp_getset = Wrap_getset,
    .tp_doc = "Wrap(sampler, fn, ending=False): fn(task, state, ...) with sampler.state (or .end) called first.",
};

static PyObject *py_clock(PyObject *mod, PyObject *unused) { return PyFloat_FromDouble(now_mono()); }

static PyMethodDef methods[] = {
    {"clock", py_clock, METH_NOARGS, "The sampler's clock (CLOCK_MONOTONIC, the clock of time.perf_counter)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cpuclock", NULL, -1, methods};

PyMODINIT_FUNC PyInit__cpuclock(void) {
    if (PyType_Ready(&SamplerType) < 0 || PyType_Ready(&WrapType) < 0) return NULL;
    str_ready = PyUnicode_InternFromString("ready");
    str_running = PyUnicode_InternFromString("running");
    str_reason = PyUnicode_InternFromString("waiting for the GIL");
    str_blocked = PyUnicode_InternFromString("blocked");
    str_asleep = PyUnicode_InternFromString("asleep in C code");
    if (str_ready == NULL || str_running == NULL || str_reason == NULL || str_blocked == NULL || str_asleep == NULL)
        return NULL;
    gil_info = Py_BuildValue("{s:O}", "gil", Py_True);
    asleep_info = Py_BuildValue("{s:O}", "asleep", Py_True);
    if (gil_info == NULL || asleep_info == NULL) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&SamplerType);
    if (PyModule_AddObject(m, "Sampler", (PyObject *)&SamplerType) < 0) {
        Py_DECREF(&SamplerType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&WrapType);
    if (PyModule_AddObject(m, "Wrap", (PyObject *)&WrapType) < 0) {
        Py_DECREF(&WrapType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

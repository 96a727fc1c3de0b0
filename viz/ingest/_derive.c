/* _derive: the viewer's deriver (viz/ingest/derive.py) on its hot path, in C.
 *
 * Most raw events of a gevent program are the C hook's two compact switch events, again and again:
 *   ("H", t, hub, task)         the hub resumed a task: the hub is ready, the task runs where it stopped
 *   ("Y", t, task, hub, item)   a task waits, the hub runs; item = (reason, state, seconds, file, line, info)
 * The child sends them packed in runs (viz.protocol.SWITCH_RUN: the switches back to back, 25 bytes each, and the
 * items of the Y ones). `switches` turns a batch's switch events, packed or not, into state records
 * (viz.trace.record.StateRecord) exactly as Deriver._hub_resumes and Deriver._to_hub do, reading a run's switches
 * where they lie (no tuple per switch), and stops at the first event that needs anything else (another kind of
 * event, a task it does not know yet, one that ended, a wait whose info it does not know): it hands that one to
 * Deriver.feed, which derives it in Python and calls back. A wake-up later than its timer or its poll is found here
 * as in Deriver._woke_late.
 * An event is handled here completely or not at all, so Python always sees the state as its own code left it.
 * `Task` and `Hub` are the deriver's per-task and per-hub state, with the same attributes as the Python classes
 * they replace when this module is built. The module is optional: VIZ_PURE_PYTHON=1 or a build without a
 * compiler uses derive.py alone.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "../trace/record.h"
#include <structmember.h>
#include <stdint.h>

/* ---- Task: what the deriver knows of one task ------------------------------------------------------------ */
typedef struct {
    PyObject_HEAD
    PyObject *state, *reason, *file, *line, *info;
    double t;
    char ended;
} Task;

static int Task_init(Task *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"file", "line", NULL};
    PyObject *file = Py_None, *line = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO", kwlist, &file, &line)) return -1;
    Py_INCREF(Py_None); Py_XSETREF(self->state, Py_None);
    Py_INCREF(Py_None); Py_XSETREF(self->reason, Py_None);
    Py_INCREF(Py_None); Py_XSETREF(self->info, Py_None);
    Py_INCREF(file); Py_XSETREF(self->file, file);
    Py_INCREF(line); Py_XSETREF(self->line, line);
    self->t = 0.0;
    self->ended = 0;
    return 0;
}

static void Task_dealloc(Task *self) {
    Py_XDECREF(self->state); Py_XDECREF(self->reason); Py_XDECREF(self->file);
    Py_XDECREF(self->line); Py_XDECREF(self->info);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMemberDef Task_members[] = {
    {"state", T_OBJECT, offsetof(Task, state), 0, "running, ready, blocked, idle or None"},
    {"reason", T_OBJECT, offsetof(Task, reason), 0, "the reason of the state"},
    {"file", T_OBJECT, offsetof(Task, file), 0, "source file where the task last stopped"},
    {"line", T_OBJECT, offsetof(Task, line), 0, "source line where the task last stopped"},
    {"info", T_OBJECT, offsetof(Task, info), 0, "what a blocked task waits on (dict) or None"},
    {"t", T_DOUBLE, offsetof(Task, t), 0, "when the state began"},
    {"ended", T_BOOL, offsetof(Task, ended), 0, "the task has ended"},
    {NULL}
};

static PyTypeObject TaskType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "viz.ingest._derive.Task",
    .tp_basicsize = sizeof(Task),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Task(file=None, line=None): what the deriver knows of one task",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Task_init,
    .tp_dealloc = (destructor)Task_dealloc,
    .tp_members = Task_members,
};

/* ---- Hub: a hub's running span held back until a poll says whether it was idle ---------------------------- */
typedef struct {
    PyObject_HEAD
    PyObject *held, *idle_from;
} Hub;

static int Hub_init(Hub *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "", kwlist)) return -1;
    Py_INCREF(Py_None); Py_XSETREF(self->held, Py_None);
    Py_INCREF(Py_None); Py_XSETREF(self->idle_from, Py_None);
    return 0;
}

static void Hub_dealloc(Hub *self) {
    Py_XDECREF(self->held); Py_XDECREF(self->idle_from);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMemberDef Hub_members[] = {
    {"held", T_OBJECT, offsetof(Hub, held), 0, "the hub's running record not emitted yet, or None"},
    {"idle_from", T_OBJECT, offsetof(Hub, idle_from), 0, "when the hub came back to its loop (polling), or None"},
    {NULL}
};

static PyTypeObject HubType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "viz.ingest._derive.Hub",
    .tp_basicsize = sizeof(Hub),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Hub(): a hub's held running span and poll bounds",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Hub_init,
    .tp_dealloc = (destructor)Hub_dealloc,
    .tp_members = Hub_members,
};

/* ---- switches ------------------------------------------------------------------------------------------- */
static PyObject *s_state, *s_ready, *s_running, *s_blocked, *s_until, *s_blocks_loop, *s_tag_h, *s_tag_y;
static PyObject *s_fd, *s_fds, *s_io, *s_write, *s_timer_fired, *s_select_returned;
static PyObject *s_k, *s_cause, *s_t, *s_task, *s_by, *s_what;
#define SWITCH_SIZE 25  /* a packed switch: kind (1 byte), t (float64), two task ids (int64), little-endian */
#define LATE 0.005  /* viz.ingest.derive.LATE: a wake-up later than this after its cause shows as a ready span */

/* a == b as Python's == would say for the values found here (strings, ints, None) */
static int same(PyObject *a, PyObject *b) {
    if (a == b) return 1;
    if (a == Py_None || b == Py_None) return 0;
    /* equal values in distinct objects (each batch the child sends makes its own): compared without the generic
     * rich comparison, which cost most of a switch's comparisons */
    if (PyUnicode_CheckExact(a) && PyUnicode_CheckExact(b))
        return PyUnicode_GET_LENGTH(a) == PyUnicode_GET_LENGTH(b) && PyUnicode_Compare(a, b) == 0;
    if (PyLong_CheckExact(a) && PyLong_CheckExact(b)) {
        int oa, ob;
        long long x = PyLong_AsLongLongAndOverflow(a, &oa), y = PyLong_AsLongLongAndOverflow(b, &ob);
        if (!oa && !ob) return x == y;  /* (exact ints: no error to see) */
    }
    return PyObject_RichCompareBool(a, b, Py_EQ);
}

static inline void set(PyObject **slot, PyObject *v) {
    Py_INCREF(v);
    Py_XSETREF(*slot, v);
}

/* Records and switch events are tuples of strings and numbers (a switch's item holds at most a dict of them): none
 * can be part of a reference cycle. Made by the hundred thousand a second in a live run, they would make each young
 * collection of the viewer look at tens of thousands of them (16-40 ms a time, with keys waiting): the collector is
 * told not to. */
static inline void untrack(PyObject *tuple) {
    if (PyObject_GC_IsTracked(tuple)) PyObject_GC_UnTrack(tuple);
}

/* A StateRecord("state", t, task, state, reason, file, line, blocks_loop) appended to out; -1 on error */
static int emit(PyObject *out, PyObject *t, PyObject *tid, PyObject *state, PyObject *reason, PyObject *file,
                PyObject *line, int blocks_loop) {
    PyObject *items[8] = {s_state, t, tid, state, reason, file, line, blocks_loop ? Py_True : Py_False};
    PyObject *rec = new_state_record(items);
    if (rec == NULL) return -1;
    untrack(rec);
    int r = PyList_Append(out, rec);
    Py_DECREF(rec);
    return r;
}

static int is_tag(PyObject *o, Py_UCS4 c) {
    return PyUnicode_CheckExact(o) && PyUnicode_GET_LENGTH(o) == 1 && PyUnicode_READ_CHAR(o, 0) == c;
}

/* dict lookup that tells "missing" (0) from an error (-1); *found is borrowed */
static int get(PyObject *d, PyObject *k, PyObject **found) {
    *found = PyDict_GetItemWithError(d, k);
    if (*found != NULL) return 1;
    return PyErr_Occurred() ? -1 : 0;
}

/* The hub side of ("H", t, hub, task) or ("Y", ...): NULL when the event must go to Python. */
static Hub *hub_of(PyObject *hubs, PyObject *tasks, PyObject *hid, Task **htask, int *err) {
    PyObject *hub, *ht;
    int r = get(hubs, hid, &hub);
    if (r <= 0) { *err = r < 0; return NULL; }
    r = get(tasks, hid, &ht);
    if (r <= 0) { *err = r < 0; return NULL; }
    if (Py_TYPE(hub) != &HubType || Py_TYPE(ht) != &TaskType) return NULL;
    *htask = (Task *)ht;
    return (Hub *)hub;
}

/* The task side: NULL when Python must handle it (unknown, ended, itself a hub). */
static Task *task_of(PyObject *tasks, PyObject *hubs, PyObject *tid, int *err) {
    PyObject *task;
    int r = get(tasks, tid, &task);
    if (r <= 0) { *err = r < 0; return NULL; }
    if (Py_TYPE(task) != &TaskType || ((Task *)task)->ended) return NULL;
    r = PyDict_Contains(hubs, tid);
    if (r != 0) { *err = r < 0; return NULL; }
    return (Task *)task;
}

/* Deriver._woke_late for a blocked task the hub resumes at t: whether it was ready before, and from when and why.
 * 1: *late_t and *late_reason are set (new references) when it was, left NULL when not; 0: left to Python (info
 * of a shape not seen here); -1: an error. polled: the latest poll end of any hub, or a negative number for none. */
static int woke_late(Task *task, double t, double polled, PyObject **late_t, PyObject **late_reason) {
    PyObject *info = task->info, *until, *fd, *fds, *io;
    if (!PyDict_CheckExact(info)) return 0;
    int r = get(info, s_until, &until);
    if (r < 0) return -1;
    if (r && until != Py_None) {  /* a timed wait: ready from the deadline, if it ran noticeably after it */
        if (!PyFloat_CheckExact(until)) return 0;
        double u = PyFloat_AS_DOUBLE(until);
        if (t - u > LATE && u > task->t) {
            Py_INCREF(until); *late_t = until;
            Py_INCREF(s_timer_fired); *late_reason = s_timer_fired;
        }
        return 1;
    }
    if ((r = get(info, s_fd, &fd)) < 0) return -1;
    if (!r) fd = Py_None;
    int waits_fds = 0;
    if (fd == Py_None) {
        if ((r = get(info, s_fds, &fds)) < 0) return -1;
        if (r && (waits_fds = PyObject_IsTrue(fds)) < 0) return -1;
    }
    if (fd == Py_None && !waits_fds) return 1;  /* nothing it waited on says when it was ready */
    if (polled < 0 || !(polled > task->t && t - polled > LATE)) return 1;
    if (fd != Py_None) {  /* "fd 7 readable" / "fd 7 writable", as the f-string in Python */
        if (!PyLong_CheckExact(fd)) return 0;
        if ((r = get(info, s_io, &io)) < 0) return -1;
        int writable = r && same(io, s_write);
        if (writable < 0) return -1;
        *late_reason = PyUnicode_FromFormat("fd %S %s", fd, writable ? "writable" : "readable");
    } else {
        Py_INCREF(s_select_returned);
        *late_reason = s_select_returned;
    }
    *late_t = *late_reason ? PyFloat_FromDouble(polled) : NULL;
    if (*late_t == NULL) { Py_CLEAR(*late_reason); return -1; }
    return 1;
}

/* What woke a task blocked on a timer or an fd that the hub resumes (derive._wake_words): *what a new reference, or
 * left NULL for a wait whose end the hub does not see; -1 on an error. Read before the task's info is cleared. */
static int wake_words(Task *task, PyObject **what) {
    PyObject *info = task->info, *v, *io;
    int r;
    if (!PyDict_CheckExact(info)) return 0;
    if ((r = get(info, s_until, &v)) < 0) return -1;
    if (r && v != Py_None) {
        PyObject *reason = task->reason;
        if (!PyUnicode_Check(reason) || PyUnicode_GET_LENGTH(reason) == 0)
            *what = PyUnicode_FromString("the timer fired");
        else if (task->line != Py_None)
            *what = PyUnicode_FromFormat("the timer %U set at line %S fired", reason, task->line);
        else
            *what = PyUnicode_FromFormat("the timer %U fired", reason);
        return *what ? 1 : -1;
    }
    if ((r = get(info, s_fd, &v)) < 0) return -1;
    if (r && v != Py_None) {
        int writable = 0;
        if ((r = get(info, s_io, &io)) < 0) return -1;
        if (r && (writable = same(io, s_write)) < 0) return -1;
        *what = PyUnicode_FromFormat("fd %S %s, returned by the hub's poll", v, writable ? "writable" : "readable");
        return *what ? 1 : -1;
    }
    if ((r = get(info, s_fds, &v)) < 0) return -1;
    if (!r || (r = PyObject_IsTrue(v)) <= 0) return r;
    *what = PyUnicode_FromString("select() returned, in the hub's poll");
    return *what ? 1 : -1;
}

/* {"k": "cause", "t": t, "task": tid, "by": by, "what": what} appended to out; steals what; -1 on error */
static int emit_cause(PyObject *out, PyObject *t, PyObject *tid, PyObject *by, PyObject *what) {
    PyObject *d = PyDict_New();
    int r = d == NULL || PyDict_SetItem(d, s_k, s_cause) < 0 || PyDict_SetItem(d, s_t, t) < 0
            || PyDict_SetItem(d, s_task, tid) < 0 || PyDict_SetItem(d, s_by, by) < 0
            || PyDict_SetItem(d, s_what, what) < 0 || PyList_Append(out, d) < 0 ? -1 : 0;
    Py_XDECREF(d);
    Py_DECREF(what);
    return r;
}

/* One switch event, handled whole (1) or left to Python (0), or an error (-1). t_obj, a, b (and item for Y) are the
 * event's values; the records made keep references to them. */
static int one_switch(Py_UCS4 kind, PyObject *t_obj, PyObject *a, PyObject *b, PyObject *item, PyObject *out,
                      PyObject *tasks, PyObject *hubs, PyObject *reasons, double *end_time, PyObject **end_obj,
                      double polled) {
    int err = 0, r;
    double t = PyFloat_AS_DOUBLE(t_obj);
    if (kind == 'H') {
        /* the hub switched to a task: Deriver._hub_resumes */
        PyObject *hid = a, *tid = b, *reason;
        Task *htask;
        Hub *hub = hub_of(hubs, tasks, hid, &htask, &err);
        if (hub == NULL) return err ? -1 : 0;
        r = get(reasons, tid, &reason);
        if (r <= 0) return r;
        Task *task = task_of(tasks, hubs, tid, &err);
        if (task == NULL) return err ? -1 : 0;
        r = same(task->state, s_blocked);
        if (r < 0) return -1;
        PyObject *late_t = NULL, *late_reason = NULL, *what = NULL;
        int blocked_on_something = 0;
        if (r) {
            r = PyObject_IsTrue(task->info);
            if (r < 0) return -1;
            if (r) {  /* it may have woken late: Deriver._woke_late */
                r = woke_late(task, t, polled, &late_t, &late_reason);
                if (r <= 0) return r;
                if (wake_words(task, &what) < 0) goto late_fail;
                blocked_on_something = 1;
            }
        }
        if (t > *end_time) { *end_time = t; set(end_obj, t_obj); }
        if (hub->held != Py_None) {
            if (PyList_Append(out, hub->held) < 0) goto late_fail;
            set(&hub->held, Py_None);
        }
        if (emit(out, t_obj, hid, s_ready, reason, Py_None, Py_None, 0) < 0) goto late_fail;
        set(&htask->state, s_ready); set(&htask->reason, reason); htask->t = t; set(&htask->info, Py_None);
        if (late_t != NULL) {  /* ready from when its timer fired or its poll returned, until now */
            if (emit(out, late_t, tid, s_ready, late_reason, task->file, task->line, 0) < 0) goto late_fail;
            set(&task->state, s_ready); set(&task->reason, late_reason);
            task->t = PyFloat_AS_DOUBLE(late_t); set(&task->info, Py_None);
            if (what != NULL) {  /* the hub woke it: the cause of its ready span */
                r = emit_cause(out, late_t, tid, hid, what);
                what = NULL;
                if (r < 0) goto late_fail;
            }
            Py_CLEAR(late_t); Py_CLEAR(late_reason);
        }
        if (what != NULL) {  /* the hub woke it, on time: the cause of its running span */
            r = emit_cause(out, t_obj, tid, hid, what);
            if (r < 0) return -1;
        }
        if (task->reason == Py_None && !blocked_on_something) {
            r = same(task->state, s_running);
            if (r < 0) return -1;
            if (r) return 1; /* it was running already: no new span */
        }
        if (emit(out, t_obj, tid, s_running, Py_None, task->file, task->line, 0) < 0) return -1;
        set(&task->state, s_running); set(&task->reason, Py_None); task->t = t; set(&task->info, Py_None);
        return 1;
    late_fail:
        Py_XDECREF(late_t); Py_XDECREF(late_reason); Py_XDECREF(what);
        return -1;
    }
    /* Y: a task switched to the hub: Deriver._to_hub */
    PyObject *tid = a, *hid = b;
    if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 6) return 0;
    PyObject *reason = PyTuple_GET_ITEM(item, 0), *st = PyTuple_GET_ITEM(item, 1);
    PyObject *secs = PyTuple_GET_ITEM(item, 2), *file = PyTuple_GET_ITEM(item, 3);
    PyObject *line = PyTuple_GET_ITEM(item, 4), *info = PyTuple_GET_ITEM(item, 5);
    Task *task = task_of(tasks, hubs, tid, &err);
    if (task == NULL) return err ? -1 : 0;
    Task *htask;
    Hub *hub = hub_of(hubs, tasks, hid, &htask, &err);
    if (hub == NULL) return err ? -1 : 0;
    if (info != Py_None && !PyDict_CheckExact(info)) return 0;
    r = PyObject_IsTrue(secs);
    if (r < 0) return -1;
    PyObject *made = NULL;
    if (r) {  /* a timed wait: info = {"until": t + secs} */
        double sec = PyFloat_AsDouble(secs);
        if (sec == -1.0 && PyErr_Occurred()) return -1;
        made = PyDict_New();
        PyObject *until = made ? PyFloat_FromDouble(t + sec) : NULL;
        if (until == NULL || PyDict_SetItem(made, s_until, until) < 0) {
            Py_XDECREF(until); Py_XDECREF(made); return -1;
        }
        Py_DECREF(until);
        info = made;
    }
    int changed = !(same(st, task->state) && same(reason, task->reason) && same(file, task->file)
                    && same(line, task->line));
    if (PyErr_Occurred()) { Py_XDECREF(made); return -1; }
    if (t > *end_time) { *end_time = t; set(end_obj, t_obj); }
    if (changed) {
        int blocks = 0;
        if (info != Py_None && PyDict_GET_SIZE(info)) {
            PyObject *bl;
            r = get(info, s_blocks_loop, &bl);
            if (r < 0 || (r && (blocks = PyObject_IsTrue(bl)) < 0)) { Py_XDECREF(made); return -1; }
        }
        if (file != Py_None) { set(&task->file, file); set(&task->line, line); }
        if (emit(out, t_obj, tid, st, reason, file, line, blocks) < 0) { Py_XDECREF(made); return -1; }
        set(&task->state, st); set(&task->reason, reason); task->t = t; set(&task->info, info);
    }
    Py_XDECREF(made);
    if (hub->held != Py_None && PyList_Append(out, hub->held) < 0) return -1;
    PyObject *items[8] = {s_state, t_obj, hid, s_running, Py_None, Py_None, Py_None, Py_False};
    PyObject *held = new_state_record(items);
    if (held == NULL) return -1;
    untrack(held);
    Py_XSETREF(hub->held, held);
    set(&htask->state, s_running); set(&htask->reason, Py_None); htask->t = t;
    if (hub->idle_from != Py_None) set(&hub->idle_from, t_obj);
    return 1;
}

/* Task ids are small numbers counted up from 1: the int objects of the first ID_CACHE are made once, so a switch
 * makes none, and the dicts keyed by task id find them by identity. */
#define ID_CACHE 4096
static PyObject *id_cache[ID_CACHE];

/* The int object of task id u (a new reference): the cached one below ID_CACHE. */
static PyObject *id_object(uint64_t u) {
    if (u < ID_CACHE) {
        PyObject *v = id_cache[u];
        if (v == NULL && (v = id_cache[u] = PyLong_FromLongLong((long long)u)) == NULL) return NULL;
        Py_INCREF(v);
        return v;
    }
    return PyLong_FromLongLong((long long)u);
}

/* A task id of a packed switch: little-endian int64 (a new reference). */
static PyObject *packed_id(const unsigned char *p) {
    uint64_t u = 0;
    for (int k = 7; k >= 0; k--) u = (u << 8) | p[k];
    return id_object(u);
}

/* The values of a switch event ("H", t, hub, task) / ("Y", t, task, hub, item), borrowed (item NULL for H); 0 when
 * the event is not one. */
static int switch_values(PyObject *ev, Py_UCS4 *kind, PyObject **t_obj, PyObject **a, PyObject **b,
                         PyObject **item) {
    *item = NULL;
    if (!PyTuple_CheckExact(ev) || PyTuple_GET_SIZE(ev) < 4) return 0;
    PyObject *tag = PyTuple_GET_ITEM(ev, 0);
    if (!PyFloat_CheckExact(PyTuple_GET_ITEM(ev, 1))) return 0;
    if (PyTuple_GET_SIZE(ev) == 4 && is_tag(tag, 'H')) {
        *kind = 'H';
    } else if (PyTuple_GET_SIZE(ev) == 5 && is_tag(tag, 'Y')) {
        *kind = 'Y';
        *item = PyTuple_GET_ITEM(ev, 4);
    } else {
        return 0;
    }
    *t_obj = PyTuple_GET_ITEM(ev, 1); *a = PyTuple_GET_ITEM(ev, 2); *b = PyTuple_GET_ITEM(ev, 3);
    return 1;
}

/* A run of switches from the C hook: ("R", packed switches back to back, the items of the Y ones). */
static int is_run(PyObject *ev) {
    return PyTuple_CheckExact(ev) && PyTuple_GET_SIZE(ev) == 3 && is_tag(PyTuple_GET_ITEM(ev, 0), 'R')
        && PyBytes_CheckExact(PyTuple_GET_ITEM(ev, 1)) && PyList_CheckExact(PyTuple_GET_ITEM(ev, 2));
}

/* Switch j of a run, its values as new references (item borrowed from the run's list, NULL for an H): 0, or -1 with
 * an error set. *next_item counts the Y switches before it (their items come first in the list). */
static int run_switch(PyObject *run, Py_ssize_t j, Py_ssize_t *next_item, Py_UCS4 *kind, PyObject **t_obj,
                      PyObject **a, PyObject **b, PyObject **item) {
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(PyTuple_GET_ITEM(run, 1)) + j * SWITCH_SIZE;
    PyObject *items = PyTuple_GET_ITEM(run, 2);
    *kind = p[0] == 'Y' ? 'Y' : 'H';
    *item = NULL;
    if (*kind == 'Y') {
        if (*next_item >= PyList_GET_SIZE(items)) {
            PyErr_SetString(PyExc_ValueError, "a run of switches has fewer items than waits");
            return -1;
        }
        *item = PyList_GET_ITEM(items, *next_item);
    }
    double t = PyFloat_Unpack8((const char *)p + 1, 1);
    if (t == -1.0 && PyErr_Occurred()) return -1;
    *t_obj = PyFloat_FromDouble(t);
    *a = *t_obj ? packed_id(p + 9) : NULL;
    *b = *a ? packed_id(p + 17) : NULL;
    if (*b == NULL) {
        Py_XDECREF(*t_obj); Py_XDECREF(*a);
        return -1;
    }
    if (*kind == 'Y') *next_item += 1;
    return 0;
}

/* The switch event of a run as a tuple ("H", t, hub, task) / ("Y", t, task, hub, item): for Deriver.feed, when the
 * switch is one Python must derive. Steals t_obj, a and b. */
static PyObject *switch_tuple(Py_UCS4 kind, PyObject *t_obj, PyObject *a, PyObject *b, PyObject *item) {
    PyObject *one = PyTuple_New(item != NULL ? 5 : 4);
    if (one == NULL) {
        Py_DECREF(t_obj); Py_DECREF(a); Py_DECREF(b);
        return NULL;
    }
    PyObject *tag = kind == 'Y' ? s_tag_y : s_tag_h;
    Py_INCREF(tag);
    PyTuple_SET_ITEM(one, 0, tag);
    PyTuple_SET_ITEM(one, 1, t_obj);
    PyTuple_SET_ITEM(one, 2, a);
    PyTuple_SET_ITEM(one, 3, b);
    if (item != NULL) {
        Py_INCREF(item);
        PyTuple_SET_ITEM(one, 4, item);
    }
    untrack(one);
    return one;
}

static PyObject *switches(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 9) {
        PyErr_SetString(PyExc_TypeError, "switches(batch, i, j, out, tasks, hubs, reasons, end_time, polled)");
        return NULL;
    }
    PyObject *batch = args[0], *out = args[3], *tasks = args[4], *hubs = args[5], *reasons = args[6];
    if (!PyList_Check(batch) || !PyList_Check(out) || !PyDict_Check(tasks) || !PyDict_Check(hubs)
            || !PyDict_Check(reasons)) {
        PyErr_SetString(PyExc_TypeError, "switches: batch and out must be lists, tasks, hubs and reasons dicts");
        return NULL;
    }
    Py_ssize_t i = PyLong_AsSsize_t(args[1]), j = PyLong_AsSsize_t(args[2]);
    if ((i == -1 || j == -1) && PyErr_Occurred()) return NULL;
    double end_time = PyFloat_AsDouble(args[7]);
    if (end_time == -1.0 && PyErr_Occurred()) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(batch);
    double polled = -1.0;  /* no hub has polled yet */
    if (args[8] != Py_None) {
        polled = PyFloat_AsDouble(args[8]);
        if (polled == -1.0 && PyErr_Occurred()) return NULL;
        if (polled < 0) polled = 0.0;
    }
    PyObject *end_obj = args[7], *left = NULL;  /* left: the event Python must derive */
    Py_INCREF(end_obj);
    int r = 1;
    for (; i < n && left == NULL; i++, j = 0) {
        PyObject *ev = PyList_GET_ITEM(batch, i);
        Py_UCS4 kind;
        PyObject *t_obj, *a, *b, *item;
        if (!is_run(ev)) {
            r = switch_values(ev, &kind, &t_obj, &a, &b, &item);
            if (r > 0) r = one_switch(kind, t_obj, a, b, item, out, tasks, hubs, reasons, &end_time, &end_obj, polled);
            if (r < 0) goto fail;
            if (r == 0) {
                Py_INCREF(ev);
                left = ev;
            }
            continue;
        }
        Py_ssize_t count = PyBytes_GET_SIZE(PyTuple_GET_ITEM(ev, 1)) / SWITCH_SIZE, next_item = 0;
        if (j > count) j = count;
        if (j > 0) {  /* resuming inside the run: count the items of the Y switches before j */
            const char *p = PyBytes_AS_STRING(PyTuple_GET_ITEM(ev, 1));
            for (Py_ssize_t k = 0; k < j; k++) next_item += p[k * SWITCH_SIZE] == 'Y';
        }
        for (; j < count; j++) {
            if (run_switch(ev, j, &next_item, &kind, &t_obj, &a, &b, &item) < 0) goto fail;
            r = one_switch(kind, t_obj, a, b, item, out, tasks, hubs, reasons, &end_time, &end_obj, polled);
            if (r == 0) {  /* Python derives this one: as a tuple, and the run goes on after it */
                left = switch_tuple(kind, t_obj, a, b, item);
                if (left == NULL) goto fail;
                j += 1;
                break;
            }
            Py_DECREF(t_obj); Py_DECREF(a); Py_DECREF(b);  /* the records made keep what they need */
            if (r < 0) goto fail;
        }
        if (left != NULL && j < count) break;  /* stay in this run: the next call resumes at (i, j) */
    }
    if (left == NULL) {  /* all derived here */
        left = Py_None;
        Py_INCREF(left);
        j = 0;
    }
    return Py_BuildValue("(nnNN)", i, j, end_obj, left);
fail:
    Py_DECREF(end_obj);
    return NULL;
}

/* task_id(tid) -> the int object the packed switches use for this id (itself if not cached): the deriver keys its
 * tasks, and the task records the model keys its lanes, by these very objects, so a lookup by a switch's id finds
 * its key by identity rather than comparing two equal ints (most of what a dict lookup cost here). */
static PyObject *task_id(PyObject *mod, PyObject *tid) {
    if (PyLong_CheckExact(tid)) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(tid, &overflow);
        if (v == -1 && PyErr_Occurred()) return NULL;
        if (!overflow && v >= 0 && v < ID_CACHE) return id_object((uint64_t)v);
    }
    Py_INCREF(tid);
    return tid;
}

static PyMethodDef methods[] = {
    {"task_id", (PyCFunction)task_id, METH_O,
     "task_id(tid) -> the one int object the deriver uses for task id `tid` (dict keys found by identity)"},
    {"switches", (PyCFunction)(void (*)(void))switches, METH_FASTCALL,
     "switches(batch, i, j, out, tasks, hubs, reasons, end_time, polled) -> (i, j, end_time, event): derive the "
     "H/Y events from batch[i] (its switch j, if it is a run) on, appending records to out; stops "
     "at the first event Python must derive and returns it with where to go on after it (event None: all done)"},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_derive", "The viewer's deriver on its hot path (see viz/ingest/derive.py).", -1, methods
};

PyMODINIT_FUNC PyInit__derive(void) {
    if (PyType_Ready(&TaskType) < 0 || PyType_Ready(&HubType) < 0 || load_state_record() < 0) return NULL;
    s_state = PyUnicode_InternFromString("state");
    s_ready = PyUnicode_InternFromString("ready");
    s_running = PyUnicode_InternFromString("running");
    s_blocked = PyUnicode_InternFromString("blocked");
    s_until = PyUnicode_InternFromString("until");
    s_fd = PyUnicode_InternFromString("fd");
    s_fds = PyUnicode_InternFromString("fds");
    s_io = PyUnicode_InternFromString("io");
    s_write = PyUnicode_InternFromString("write");
    s_timer_fired = PyUnicode_InternFromString("timer fired");
    s_select_returned = PyUnicode_InternFromString("select() returned");
    if (!s_fd || !s_fds || !s_io || !s_write || !s_timer_fired || !s_select_returned) return NULL;
    s_k = PyUnicode_InternFromString("k");
    s_cause = PyUnicode_InternFromString("cause");
    s_t = PyUnicode_InternFromString("t");
    s_task = PyUnicode_InternFromString("task");
    s_by = PyUnicode_InternFromString("by");
    s_what = PyUnicode_InternFromString("what");
    if (!s_k || !s_cause || !s_t || !s_task || !s_by || !s_what) return NULL;
    s_blocks_loop = PyUnicode_InternFromString("blocks_loop");
    s_tag_h = PyUnicode_InternFromString("H");
    s_tag_y = PyUnicode_InternFromString("Y");
    if (!s_state || !s_ready || !s_running || !s_blocked || !s_until || !s_blocks_loop || !s_tag_h || !s_tag_y)
        return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL) return NULL;
    Py_INCREF(&TaskType);
    Py_INCREF(&HubType);
    if (PyModule_AddObject(m, "Task", (PyObject *)&TaskType) < 0
            || PyModule_AddObject(m, "Hub", (PyObject *)&HubType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

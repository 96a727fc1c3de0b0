/* _aiohook: the asyncio loop's task-step hook's hot path, in C (viz/recorder/asyncio_loop.py is the reference).
 *
 * The loop of asyncio_loop.py wraps each task step in `_viz_step` and watches `call_soon` for a task scheduling its
 * own next step (a bare yield: `await asyncio.sleep(0)`). On a switch-heavy program nearly every step is one that
 * starts, runs, and yields again at the same await as last time. `Steps` does exactly that case:
 *   call_soon(callback, *args, context=None): the running task's own next step -> `_viz_yielded = True` and asyncio's
 *       call_soon of `step`; anything else -> the loop class's Python call_soon;
 *   step(callback, *args): SWITCH.pack("H", t, loop_task, task) on the loop's run, the step, then, for a task that
 *       yielded at a place already explained, SWITCH.pack("Y", t, task, loop_task) and its item (reason, state, ...)
 *       from a cache keyed by a hash of its chain of awaits (code object and instruction of each of the program's
 *       own coroutines in it, down to the first that is not the program's).
 * Everything else -- a task's first step, a task the hooks do not know, a step that blocked, finished or raised,
 * a place not yet explained -- goes to the Python methods (`_viz_step`, `_viz_after`), which stay the reference and
 * fill the cache through `remember`. The loop's attributes (`_viz_current`, `_viz_run`, ...) stay the one state both
 * paths read and write: this module reads and writes them in the loop's __dict__.
 * Optional: without a compiler, or with VIZ_PURE_PYTHON=1, the Python methods do it all.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define MAX_DEPTH 12
#define RUN_BYTES (32 * 1024)  /* asyncio_loop._RUN_BYTES */
#define SWITCH_SIZE 25         /* protocol.SWITCH: "<cdqq" */

#include "table.h"  /* the hash table (Slot, Table, table_find, table_set, table_clear) */

static PyObject *str_self, *str_get_coro, *str_viz_tid, *str_viz_run, *str_viz_items, *str_viz_current,
    *str_viz_yielded, *str_viz_timer, *str_viz_step_soon, *str_viz_flush,
    *str_cr_frame, *str_cr_await, *str_gi_frame, *str_gi_yieldfrom;

typedef struct {
    PyObject_HEAD
    PyObject *loop;       /* the VizLoop */
    PyObject *dict;       /* its __dict__: the state shared with the Python methods */
    PyObject *task_type;  /* asyncio.Task */
    PyObject *tid_of;     /* dict Task -> task id (0: not a lane) */
    PyObject *fresh;      /* set of task ids whose first step has not run */
    PyObject *base_call_soon;  /* asyncio's call_soon(loop, callback, *args, context=) */
    PyObject *py_call_soon;    /* the loop class's call_soon(loop, callback, *args, context=): everything else */
    PyObject *py_step;         /* the loop class's _viz_step(loop, callback, *args): a step this hook leaves alone */
    PyObject *py_after;        /* _viz_after(loop, task, tid, t, yielded, signature): after a step, the Python way */
    PyObject *user_code;       /* user_code(code) -> whether it is the program's own */
    Table users;          /* address of a code object -> the code (kept alive), check = 1 if the program's own */
    Table places;         /* signature of a chain of awaits -> the item of a yield there */
    double t0;
} Steps;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Look up an attribute that may be missing: 1 with a new reference, 0 if missing, -1 on another error. */
static int optional_attr(PyObject *obj, PyObject *name, PyObject **out) {
#if PY_VERSION_HEX >= 0x030D0000
    return PyObject_GetOptionalAttr(obj, name, out);
#else
    return _PyObject_LookupAttr(obj, name, out);
#endif
}

/* The code object of a coroutine or generator (new reference), without an attribute look-up. */
static PyObject *code_of(PyObject *gen) {
#if PY_VERSION_HEX >= 0x030C0000
    return (PyObject *)PyGen_GetCode((PyGenObject *)gen);
#else
    PyObject *code = (PyObject *)((PyGenObject *)gen)->gi_code;
    Py_INCREF(code);
    return code;
#endif
}

/* Append SWITCH.pack(kind, t, a, b) to the bytearray `run`. */
static int append_switch(PyObject *run, char kind, double t, long long a, long long b) {
    Py_ssize_t n = PyByteArray_GET_SIZE(run);
    if (PyByteArray_Resize(run, n + SWITCH_SIZE) < 0) return -1;
    char *p = PyByteArray_AS_STRING(run) + n;
    p[0] = kind;
    memcpy(p + 1, &t, 8);   /* little-endian machines only, as the other hooks (checked at import) */
    memcpy(p + 9, &a, 8);
    memcpy(p + 17, &b, 8);
    return 0;
}

/* Whether `code` is the program's own (1), not (0), or -1 on error; asked of Python once per code object. */
static int is_user(Steps *self, PyObject *code) {
    unsigned long long key = (unsigned long long)(uintptr_t)code;
    Slot *s = table_find(&self->users, key);
    if (s != NULL && s->value == code) return (int)s->check;
    PyObject *r = PyObject_CallOneArg(self->user_code, code);
    if (r == NULL) return -1;
    int user = PyObject_IsTrue(r);
    Py_DECREF(r);
    if (user < 0 || table_set(&self->users, key, (unsigned long long)user, code) < 0) return -1;
    return user;
}

#define MIX(h, v) ((h) = ((h) ^ (unsigned long long)(v)) * 1099511628211ULL)

/* The signature of where a task is suspended: its chain of awaits as asyncio_loop.AsyncioHooks.where walks it (code
 * object of each, and the instruction of each of the program's own), down to the first that is not the program's.
 * 0 on success, -1 on error. */
static int signature(Steps *self, PyObject *task, unsigned long long *out) {
    unsigned long long h = 1469598103934665603ULL;
    PyObject *c = PyObject_CallMethodNoArgs(task, str_get_coro);
    if (c == NULL) return -1;
    for (int depth = 0; c != Py_None && depth < MAX_DEPTH; depth++) {
        PyObject *frame_name, *await_name;
        if (PyCoro_CheckExact(c)) {
            frame_name = str_cr_frame; await_name = str_cr_await;
        } else if (PyGen_CheckExact(c)) {
            frame_name = str_gi_frame; await_name = str_gi_yieldfrom;
        } else {  /* a future or another awaitable: where() stops here */
            MIX(h, (uintptr_t)Py_TYPE(c));
            break;
        }
        PyObject *code = code_of(c);
        if (code == NULL) goto error;
        MIX(h, (uintptr_t)code);
        int user = is_user(self, code);
        Py_DECREF(code);
        if (user < 0) goto error;
        if (!user) break;
        PyObject *frame = PyObject_GetAttr(c, frame_name);
        if (frame == NULL) goto error;
        if (!PyFrame_Check(frame)) {
            Py_DECREF(frame);
            MIX(h, 0xffffffffULL);
            break;
        }
        MIX(h, (unsigned int)PyFrame_GetLasti((PyFrameObject *)frame));
        Py_DECREF(frame);
        PyObject *next = PyObject_GetAttr(c, await_name);
        if (next == NULL) goto error;
        Py_SETREF(c, next);
    }
    Py_DECREF(c);
    *out = h;
    return 0;
error:
    Py_DECREF(c);
    return -1;
}

/* Call fn(loop, *args) (args: n objects). */
static PyObject *call_with_loop(Steps *self, PyObject *fn, PyObject *const *args, size_t n, PyObject *kwnames) {
    PyObject *small[8];
    Py_ssize_t nk = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    size_t total = n + 1 + (size_t)nk;
    PyObject **stack = total <= 8 ? small : PyMem_Malloc(total * sizeof(PyObject *));
    if (stack == NULL) return PyErr_NoMemory();
    stack[0] = self->loop;
    memcpy(stack + 1, args, (n + (size_t)nk) * sizeof(PyObject *));
    PyObject *r = PyObject_Vectorcall(fn, stack, n + 1, kwnames);
    if (stack != small) PyMem_Free(stack);
    return r;
}

static PyObject *Steps_call_soon(Steps *self, PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames) {
    Py_ssize_t n = PyVectorcall_NARGS(nargsf);
    if (n >= 1) {
        PyObject *task = NULL;
        int got = optional_attr(args[0], str_self, &task);
        if (got < 0) return NULL;
        if (got > 0 && Py_TYPE(task) == (PyTypeObject *)self->task_type) {
            PyObject *tid = PyDict_GetItemWithError(self->tid_of, task);  /* borrowed */
            Py_DECREF(task);
            if (tid == NULL && PyErr_Occurred()) return NULL;
            PyObject *cur = PyDict_GetItemWithError(self->dict, str_viz_current);
            if (cur == NULL && PyErr_Occurred()) return NULL;
            if (tid != NULL && cur != NULL && cur != Py_None && PyLong_CheckExact(tid) && PyLong_CheckExact(cur)) {
                int same = PyObject_RichCompareBool(tid, cur, Py_EQ);
                if (same < 0) return NULL;
                if (same && PyObject_IsTrue(tid)) {  /* a bare yield: its next step, through step() */
                    PyObject *step = PyDict_GetItemWithError(self->dict, str_viz_step_soon);
                    if (step == NULL) {
                        if (PyErr_Occurred()) return NULL;
                    } else if (PyDict_SetItem(self->dict, str_viz_yielded, Py_True) == 0) {
                        Py_INCREF(step);
                        PyObject *small[10];
                        Py_ssize_t nk = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
                        size_t total = (size_t)(n + nk) + 2;
                        PyObject **stack = total <= 10 ? small : PyMem_Malloc(total * sizeof(PyObject *));
                        if (stack == NULL) { Py_DECREF(step); return PyErr_NoMemory(); }
                        stack[0] = self->loop;
                        stack[1] = step;
                        memcpy(stack + 2, args, (size_t)(n + nk) * sizeof(PyObject *));
                        PyObject *r = PyObject_Vectorcall(self->base_call_soon, stack, (size_t)n + 2, kwnames);
                        if (stack != small) PyMem_Free(stack);
                        Py_DECREF(step);
                        return r;
                    } else {
                        return NULL;
                    }
                }
            }
        } else {
            Py_XDECREF(task);
        }
    }
    return call_with_loop(self, self->py_call_soon, args, (size_t)n, kwnames);
}

/* A task id as a C integer: 1, or 0 if it is not an int. */
static int as_id(PyObject *o, long long *out) {
    if (o == NULL || !PyLong_CheckExact(o)) return 0;
    long long v = PyLong_AsLongLong(o);
    if (v == -1 && PyErr_Occurred()) { PyErr_Clear(); return 0; }
    *out = v;
    return 1;
}

static PyObject *Steps_step(Steps *self, PyObject *const *args, Py_ssize_t nargsf) {
    Py_ssize_t n = PyVectorcall_NARGS(nargsf);
    if (n < 1) {
        PyErr_SetString(PyExc_TypeError, "step(callback, *args)");
        return NULL;
    }
    PyObject *callback = args[0];
    PyObject *task = NULL, *tid = NULL, *loop_tid = NULL;
    long long tid_c, loop_c;
    int got = optional_attr(callback, str_self, &task);
    if (got < 0) return NULL;
    if (got == 0) goto python;
    tid = PyDict_GetItemWithError(self->tid_of, task);
    if (tid == NULL) {
        if (PyErr_Occurred()) goto error;
        goto python;
    }
    Py_INCREF(tid);
    int fresh = PySet_GET_SIZE(self->fresh) > 0 ? PySet_Contains(self->fresh, tid) : 0;
    if (fresh < 0) goto error;
    loop_tid = PyDict_GetItemWithError(self->dict, str_viz_tid);
    if (loop_tid == NULL && PyErr_Occurred()) goto error;
    Py_XINCREF(loop_tid);
    if (fresh || !as_id(tid, &tid_c) || tid_c == 0 || !as_id(loop_tid, &loop_c)) goto python;

    PyObject *run = PyDict_GetItemWithError(self->dict, str_viz_run);
    if (run == NULL || !PyByteArray_CheckExact(run)) {
        if (PyErr_Occurred()) goto error;
        goto python;
    }
    if (append_switch(run, 'H', now() - self->t0, loop_c, tid_c) < 0) goto error;
    PyObject *timer = PyDict_GetItemWithError(self->dict, str_viz_timer);  /* None (or unset) unless a step set it */
    if (timer == NULL && PyErr_Occurred()) goto error;
    if (PyDict_SetItem(self->dict, str_viz_current, tid) < 0 || PyDict_SetItem(self->dict, str_viz_yielded, Py_False) < 0
            || (timer != NULL && timer != Py_None && PyDict_SetItem(self->dict, str_viz_timer, Py_None) < 0))
        goto error;

    PyObject *result = PyObject_Vectorcall(callback, args + 1, (size_t)(n - 1), NULL);
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);

    PyObject *item = NULL, *sig_obj = NULL;
    double t;
    int yielded = 0;
    if (PyDict_SetItem(self->dict, str_viz_current, Py_None) < 0) goto after_error;
    t = now() - self->t0;
    PyObject *y = PyDict_GetItemWithError(self->dict, str_viz_yielded);
    if (y == NULL && PyErr_Occurred()) goto after_error;
    yielded = y != NULL && PyObject_IsTrue(y) == 1;
    if (yielded && exc_type == NULL) {
        unsigned long long sig;
        if (signature(self, task, &sig) < 0) {
            PyErr_Clear();  /* the Python method explains it (and reports what went wrong) */
        } else {
            Slot *s = table_find(&self->places, sig);
            if (s != NULL && s->check == sig) {
                item = s->value;
                Py_INCREF(item);
            } else {
                sig_obj = PyLong_FromUnsignedLongLong(sig);
                if (sig_obj == NULL) goto after_error;
            }
        }
    }
    if (item != NULL) {
        run = PyDict_GetItemWithError(self->dict, str_viz_run);
        PyObject *items = PyDict_GetItemWithError(self->dict, str_viz_items);
        if (run == NULL || items == NULL || !PyByteArray_CheckExact(run) || !PyList_CheckExact(items)) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "asyncio loop without its run of switches");
            goto after_error;
        }
        if (append_switch(run, 'Y', t, tid_c, loop_c) < 0 || PyList_Append(items, item) < 0) goto after_error;
        if (PyByteArray_GET_SIZE(run) > RUN_BYTES) {
            PyObject *r = PyObject_CallMethodNoArgs(self->loop, str_viz_flush);
            if (r == NULL) goto after_error;
            Py_DECREF(r);
        }
    } else {
        PyObject *t_obj = PyFloat_FromDouble(t);
        if (t_obj == NULL) goto after_error;
        PyObject *stack[6] = {self->loop, task, tid, t_obj, yielded ? Py_True : Py_False, sig_obj ? sig_obj : Py_None};
        PyObject *r = PyObject_Vectorcall(self->py_after, stack, 6, NULL);
        Py_DECREF(t_obj);
        if (r == NULL) goto after_error;
        Py_DECREF(r);
    }
    goto after_done;
after_error:
    if (exc_type != NULL) PyErr_Clear();  /* the step's own exception wins, as a `finally` would not let it */
    else { Py_XDECREF(result); result = NULL; }
after_done:
    Py_XDECREF(item);
    Py_XDECREF(sig_obj);
    if (exc_type != NULL) PyErr_Restore(exc_type, exc_value, exc_tb);
    Py_DECREF(task);
    Py_DECREF(tid);
    Py_XDECREF(loop_tid);
    return result;

python:
    Py_XDECREF(task);
    Py_XDECREF(tid);
    Py_XDECREF(loop_tid);
    return call_with_loop(self, self->py_step, args, (size_t)n, NULL);
error:
    Py_XDECREF(task);
    Py_XDECREF(tid);
    Py_XDECREF(loop_tid);
    return NULL;
}

static PyObject *Steps_remember(Steps *self, PyObject *args) {
    PyObject *sig_obj, *item;
    if (!PyArg_ParseTuple(args, "OO", &sig_obj, &item)) return NULL;
    unsigned long long sig = PyLong_AsUnsignedLongLong(sig_obj);
    if (sig == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    if (table_set(&self->places, sig, sig, item) < 0) return NULL;
    Py_RETURN_NONE;
}

static int Steps_init(Steps *self, PyObject *args, PyObject *kwds) {
    PyObject *loop, *task_type, *tid_of, *fresh, *base_call_soon, *py_call_soon, *py_step, *py_after, *user_code;
    double t0;
    static char *kwlist[] = {"loop", "task_type", "tid_of", "fresh", "base_call_soon", "call_soon", "step", "after",
                             "user_code", "t0", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO!O!OOOOOd", kwlist, &loop, &task_type, &PyDict_Type, &tid_of,
                                     &PySet_Type, &fresh, &base_call_soon, &py_call_soon, &py_step, &py_after,
                                     &user_code, &t0))
        return -1;
    if (!PyType_Check(task_type)) {
        PyErr_SetString(PyExc_TypeError, "task_type must be a type");
        return -1;
    }
    PyObject *dict = PyObject_GenericGetDict(loop, NULL);
    if (dict == NULL) return -1;
    Py_XSETREF(self->dict, dict);
#define KEEP(field, value) do { Py_INCREF(value); Py_XSETREF(self->field, value); } while (0)
    KEEP(loop, loop);
    KEEP(task_type, task_type);
    KEEP(tid_of, tid_of);
    KEEP(fresh, fresh);
    KEEP(base_call_soon, base_call_soon);
    KEEP(py_call_soon, py_call_soon);
    KEEP(py_step, py_step);
    KEEP(py_after, py_after);
    KEEP(user_code, user_code);
#undef KEEP
    self->t0 = t0;
    return 0;
}

static int Steps_traverse(Steps *self, visitproc visit, void *arg) {
    Py_VISIT(self->loop);
    Py_VISIT(self->dict);
    Py_VISIT(self->task_type);
    Py_VISIT(self->tid_of);
    Py_VISIT(self->fresh);
    Py_VISIT(self->base_call_soon);
    Py_VISIT(self->py_call_soon);
    Py_VISIT(self->py_step);
    Py_VISIT(self->py_after);
    Py_VISIT(self->user_code);
    return 0;
}

static int Steps_clear(Steps *self) {
    Py_CLEAR(self->loop);
    Py_CLEAR(self->dict);
    Py_CLEAR(self->task_type);
    Py_CLEAR(self->tid_of);
    Py_CLEAR(self->fresh);
    Py_CLEAR(self->base_call_soon);
    Py_CLEAR(self->py_call_soon);
    Py_CLEAR(self->py_step);
    Py_CLEAR(self->py_after);
    Py_CLEAR(self->user_code);
    table_clear(&self->users);
    table_clear(&self->places);
    return 0;
}

static void Steps_dealloc(Steps *self) {
    PyObject_GC_UnTrack(self);
    Steps_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Steps_methods[] = {
    {"call_soon", (PyCFunction)(void (*)(void))Steps_call_soon, METH_FASTCALL | METH_KEYWORDS,
     "The loop's call_soon: a running task's own next step goes through step(); the rest to the Python method."},
    {"step", (PyCFunction)(void (*)(void))Steps_step, METH_FASTCALL,
     "Run one task step, recording its switches (the Python _viz_step / _viz_after for what is not a cached yield)."},
    {"remember", (PyCFunction)Steps_remember, METH_VARARGS, "remember(signature, item): a yield's item at a place."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject StepsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "viz.recorder._aiohook.Steps",
    .tp_basicsize = sizeof(Steps),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Steps_init,
    .tp_dealloc = (destructor)Steps_dealloc,
    .tp_traverse = (traverseproc)Steps_traverse,
    .tp_clear = (inquiry)Steps_clear,
    .tp_methods = Steps_methods,
    .tp_doc = "An asyncio loop's task steps and call_soon: the hot path of viz's asyncio hooks.",
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_aiohook", NULL, -1, NULL};

PyMODINIT_FUNC PyInit__aiohook(void) {
    const union { uint16_t u; uint8_t b[2]; } probe = {1};
    if (probe.b[0] != 1) {
        PyErr_SetString(PyExc_ImportError, "_aiohook packs switches little-endian only");
        return NULL;
    }
#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL
    INTERN(str_self, "__self__");
    INTERN(str_get_coro, "get_coro");
    INTERN(str_viz_tid, "_viz_tid");
    INTERN(str_viz_run, "_viz_run");
    INTERN(str_viz_items, "_viz_items");
    INTERN(str_viz_current, "_viz_current");
    INTERN(str_viz_yielded, "_viz_yielded");
    INTERN(str_viz_timer, "_viz_timer");
    INTERN(str_viz_step_soon, "_viz_step_soon");
    INTERN(str_viz_flush, "_viz_flush");
    INTERN(str_cr_frame, "cr_frame");
    INTERN(str_cr_await, "cr_await");
    INTERN(str_gi_frame, "gi_frame");
    INTERN(str_gi_yieldfrom, "gi_yieldfrom");
#undef INTERN
    if (PyType_Ready(&StepsType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&StepsType);
    if (PyModule_AddObject(m, "Steps", (PyObject *)&StepsType) < 0) {
        Py_DECREF(&StepsType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

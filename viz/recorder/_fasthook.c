/* _fasthook: the greenlet switch hook's hot path, in C.
 *
 * greenlet.settrace calls a tracer on every switch. Most switches of a gevent program are a greenlet going to the
 * hub and the hub resuming a greenlet, again and again from the same places. This hook handles exactly those with
 * a few dictionary look-ups and 25 bytes added to the run of switches the event buffer ends with
 * (viz.protocol.SWITCH_RUN: the packed switches, and the items of the Y ones):
 *   hub -> greenlet:   SWITCH.pack("H", t, hub_task, target_task)
 *   greenlet -> hub:   SWITCH.pack("Y", t, origin_task, hub_task), and its item = (reason, state, seconds, file,
 *                      line, info)
 * `item` comes from a cache keyed by a hash of the origin's suspended frames (code object and instruction of each),
 * filled by the Python hook (viz.recorder.greenlets, through `remember`) the first time it explains a switch whose
 * reason depends on nothing but those frames. A socket wait (`recv() on fd 7 (127.0.0.1:40012)`) also depends on
 * the socket: for those the cache holds the depth of the gevent socket method's frame instead of an item, and the
 * item is looked up per (frames, socket) in a second table (`remember_socket`), checked against a weak reference
 * to the socket (an open socket's fd and peer do not change; a closed one cannot wait).
 * A socket's first wait at such a place asks the Python hook for the item of that socket alone (`socket_wait`).
 * Both caches are C hash tables keyed by the 64-bit hashes themselves: no int object per look-up.
 * Everything else -- new greenlets, finished ones, direct switches, waits whose reason depends on other run-time
 * values -- goes to the Python hook, which stays the reference behaviour.
 * The module also holds `Profiler`, the C filter in front of the generator/coroutine profile hook.
 * The module is optional: without a compiler viz falls back to the Python hooks alone.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
/* 3.11 has no API to read one local of a frame without building its f_locals dict: read it from the frame. */
#define Py_BUILD_CORE
#include "internal/pycore_frame.h"
#undef Py_BUILD_CORE
#define FIRST_LOCAL_OF_FRAME 1
#endif

#define MAX_DEPTH 12
#define RUN_BYTES (32 * 1024)  /* a run of switches this long is followed by a new one (run_add) */
#define MAX_SOCKET_WAITS 4096   /* socket waits kept explained; then the table starts again (closed sockets go) */

#include "table.h"

typedef struct {
    PyObject_HEAD
    PyObject *tasks;    /* dict greenlet -> task id */
    PyObject *hubs;     /* set of hub greenlets */
    PyObject *hub_one;  /* the hub, while `hubs` holds only it (it only grows), or NULL */
    PyObject *hub_tid;  /* hub_one's task id once looked up (a task keeps its id), or NULL */
    Py_ssize_t hubs_seen;  /* the size of `hubs` when hub_one was set */
    Table cache;        /* signature -> item, or -> depth (an int) of the socket method's frame for a socket wait */
    Table socks;        /* socket_key(signature, socket) -> (weakref to the socket, item), checked: signature */
    PyObject *raw;      /* set of greenlets the Python hook still has to name (always its path) */
    PyObject *append;   /* bound append of the event buffer */
    PyObject *queue;    /* the event buffer itself (the deque `append` belongs to) */
    PyObject *run;      /* the run of switches the buffer ends with: ("R", bytearray, items), or NULL */
    PyObject *slow;     /* Python hook: slow(event, args, signature) */
    PyObject *socket_wait;  /* Python: socket_wait(signature, socket) -> item of a socket's first wait, or None */
    PyObject *prev;     /* the tracer that was installed before us, or None */
    PyObject *tag_h, *tag_y;
    PyObject *due;      /* Python: flush the buffer if it is due (viz.recorder.core.Recorder.flush_if_due), or NULL */
    int since_due;      /* switches packed since `due` was last called */
    double t0;
    PyTypeObject *frame_type;  /* the type whose `gr_frame` descriptor is frame_get's, or NULL */
    PyObject *frame_get;       /* that descriptor (a greenlet subclass may not override it, but could) */
    vectorcallfunc vectorcall; /* Hook_vectorcall: greenlet calls its tracer with (event, args) */
} Hook;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A hash of the chain of suspended frames: what the greenlet was doing, where. */
#if defined(FIRST_LOCAL_OF_FRAME)
/* 3.11: the frame below `fr`, as PyFrame_GetBack finds it, but without making a frame object for each (most of a
 * wait's frames are new at every wait, and materialising them was most of the cost of walking them). */
static _PyInterpreterFrame *frame_back(_PyInterpreterFrame *fr) {
    PyFrameObject *fo = fr->frame_obj;
    if (fo != NULL && fo->f_back != NULL) return fo->f_back->f_frame;
    _PyInterpreterFrame *prev = fr->previous;
    while (prev != NULL && _PyFrame_IsIncomplete(prev)) prev = prev->previous;
    return prev;
}

/* Same hash as below, over the interpreter's frames. */
static int signature(PyObject *frame_obj, unsigned long long *out) {
    unsigned long long h = 1469598103934665603ULL;
    _PyInterpreterFrame *fr = ((PyFrameObject *)frame_obj)->f_frame;
    for (int depth = 0; fr != NULL && depth < MAX_DEPTH; depth++, fr = frame_back(fr)) {
        int lasti = _PyInterpreterFrame_LASTI(fr);
        h = (h ^ (unsigned long long)(uintptr_t)fr->f_code) * 1099511628211ULL;
        h = (h ^ (unsigned long long)(unsigned int)(lasti < 0 ? -1 : lasti * (int)sizeof(_Py_CODEUNIT)))
            * 1099511628211ULL;
    }
    *out = h;
    return 0;
}
#else
static int signature(PyObject *frame_obj, unsigned long long *out) {
    unsigned long long h = 1469598103934665603ULL;
    PyFrameObject *f = (PyFrameObject *)frame_obj;
    Py_INCREF(f);
    for (int depth = 0; f != NULL && depth < MAX_DEPTH; depth++) {
        PyCodeObject *code = PyFrame_GetCode(f);
        int lasti = PyFrame_GetLasti(f);
        h = (h ^ (unsigned long long)(uintptr_t)code) * 1099511628211ULL;
        h = (h ^ (unsigned long long)(unsigned int)lasti) * 1099511628211ULL;
        Py_DECREF(code);
        PyFrameObject *back = PyFrame_GetBack(f);
        Py_DECREF(f);
        f = back;
    }
    Py_XDECREF(f);
    *out = h;
    return 0;
}
#endif

/* The key of a socket wait in `socks`: the frames' signature mixed with the socket's address. */
static unsigned long long socket_key(unsigned long long sig, PyObject *sock) {
    return sig ^ ((unsigned long long)(uintptr_t)sock * 0x9E3779B97F4A7C15ULL);
}

static PyObject *str_self;

/* The frame `depth` levels above `frame`, walked as PyFrame_GetBack does (new reference), or NULL. */
static PyFrameObject *frame_above(PyObject *frame, long depth) {
    PyFrameObject *f = (PyFrameObject *)frame;
    Py_INCREF(f);
    for (long i = 0; f != NULL && i < depth; i++) {
        PyFrameObject *back = PyFrame_GetBack(f);
        Py_DECREF(f);
        f = back;
    }
    return f;
}

/* `self` of the frame `depth` levels above `frame`: the socket a gevent socket method waits on (new reference). */
static PyObject *socket_of(PyObject *frame, long depth) {
#if defined(FIRST_LOCAL_OF_FRAME)
    /* 3.11: walk the interpreter's frames as signature() does, and read `self` from the method's first local. */
    _PyInterpreterFrame *fr = ((PyFrameObject *)frame)->f_frame;
    for (long i = 0; fr != NULL && i < depth; i++) fr = frame_back(fr);
    if (fr != NULL && fr->f_code->co_nlocalsplus > 0
            && PyTuple_GET_ITEM(fr->f_code->co_localsplusnames, 0) == str_self) {
        PyObject *sock = fr->localsplus[0];
        if (sock != NULL && PyCell_Check(sock)) sock = PyCell_GET(sock);
        if (sock != NULL) { Py_INCREF(sock); return sock; }
    }
    PyFrameObject *f = frame_above(frame, depth);
    if (f == NULL) return NULL;
    PyObject *sock = NULL, *locals = PyFrame_GetLocals(f);
    if (locals != NULL) {
        sock = PyObject_GetItem(locals, str_self);
        Py_DECREF(locals);
    }
#else
    PyFrameObject *f = frame_above(frame, depth);
    if (f == NULL) return NULL;
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *sock = PyFrame_GetVarString(f, "self");
#else
    PyObject *sock = NULL, *locals = PyFrame_GetLocals(f);
    if (locals != NULL) {
        sock = PyObject_GetItem(locals, str_self);
        Py_DECREF(locals);
    }
#endif
#endif
    Py_DECREF(f);
    return sock;
}

/* Whether the weak reference `ref` still refers to `obj`. */
static int refers_to(PyObject *ref, PyObject *obj) {
#if PY_VERSION_HEX >= 0x030D0000
    PyObject *got = NULL;
    if (PyWeakref_GetRef(ref, &got) < 0) { PyErr_Clear(); return 0; }
    int same = got == obj;
    Py_XDECREF(got);
    return same;
#else
    return PyWeakref_GetObject(ref) == obj;
#endif
}

/* The item of a socket wait (new reference): cached, if it is the socket cached; else made by the Python hook's
 * socket_wait(); else NULL with no error set (the Python hook explains the whole switch). */
static PyObject *socket_item(Hook *self, PyObject *frame, long depth, unsigned long long sig) {
    PyObject *sock = socket_of(frame, depth);
    if (sock == NULL) { PyErr_Clear(); return NULL; }
    PyObject *item = NULL;
    Slot *slot = table_find(&self->socks, socket_key(sig, sock));
    if (slot != NULL && slot->check == sig && refers_to(PyTuple_GET_ITEM(slot->value, 0), sock)) {
        item = PyTuple_GET_ITEM(slot->value, 1);
        Py_INCREF(item);
    } else {
        PyObject *sig_obj = PyLong_FromUnsignedLongLong(sig);
        item = sig_obj ? PyObject_CallFunctionObjArgs(self->socket_wait, sig_obj, sock, NULL) : NULL;
        Py_XDECREF(sig_obj);
        if (item != NULL && !(PyTuple_Check(item) && PyTuple_GET_SIZE(item) == 6)) Py_CLEAR(item);
        if (PyErr_Occurred()) PyErr_Clear();
    }
    Py_DECREF(sock);
    return item;
}

/* (tag, t, a, b) or (tag, t, a, b, item), built without format parsing. */
static PyObject *tuple4(PyObject *tag, double t, PyObject *a, PyObject *b, PyObject *item) {
    PyObject *tup = PyTuple_New(item ? 5 : 4);
    PyObject *ft = PyFloat_FromDouble(t);
    if (tup == NULL || ft == NULL) { Py_XDECREF(tup); Py_XDECREF(ft); return NULL; }
    Py_INCREF(tag); Py_INCREF(a); Py_INCREF(b);
    PyTuple_SET_ITEM(tup, 0, tag);
    PyTuple_SET_ITEM(tup, 1, ft);
    PyTuple_SET_ITEM(tup, 2, a);
    PyTuple_SET_ITEM(tup, 3, b);
    if (item) { Py_INCREF(item); PyTuple_SET_ITEM(tup, 4, item); }
    /* nothing in it can lead back to it: the collector need not look at the thousands waiting to be sent */
    PyObject_GC_UnTrack(tup);
    return tup;
}

static PyObject *call_slow(Hook *self, PyObject *event, PyObject *args, PyObject *sig) {
    PyObject *r = PyObject_CallFunctionObjArgs(self->slow, event, args, sig ? sig : Py_None, NULL);
    return r;
}

static PyObject *chain(Hook *self, PyObject *event, PyObject *args) {
    if (self->prev != Py_None)
        return PyObject_CallFunctionObjArgs(self->prev, event, args, NULL);
    Py_RETURN_NONE;
}

static PyObject *str_gr_frame, *str_call, *str_return, *str_c_call, *str_c_return, *str_c_exception, *str_run;

/* Append a switch to the run of switches the event buffer ends with (viz.protocol.SWITCH_RUN): its packed bytes to
 * the run's bytearray, and a Y's item to the run's item list. A new run is started when anything else was appended
 * since (a Python hook's event), or the flusher has taken the run away (the buffer's last item is checked), or the
 * run holds RUN_BYTES: runs that small come from the heap and go back to it, where a run of 50 ms of switches (a
 * megabyte) was mapped afresh, page by page, every time. No object per switch, and the flusher marshals a run as one
 * bytes string. 0, or -1 with an error set; 1: an id does not fit
 * (the caller sends the tuple form). */
static int run_add(Hook *self, char kind, double t, PyObject *a, PyObject *b, PyObject *item) {
    long long ids[2] = {PyLong_AsLongLong(a), PyLong_AsLongLong(b)};
    if ((ids[0] == -1 || ids[1] == -1) && PyErr_Occurred()) { PyErr_Clear(); return 1; }
    PyObject *last = NULL;
    if (self->run != NULL) {
        last = PySequence_GetItem(self->queue, -1);  /* an empty buffer (just taken by a flush): IndexError */
        if (last == NULL) PyErr_Clear();
    }
    if (last == NULL || last != self->run || PyByteArray_GET_SIZE(PyTuple_GET_ITEM(self->run, 1)) >= RUN_BYTES) {
        Py_XDECREF(last);
        PyObject *bytes = PyByteArray_FromStringAndSize(NULL, 0);
        PyObject *items = bytes ? PyList_New(0) : NULL;
        PyObject *run = items ? PyTuple_Pack(3, str_run, bytes, items) : NULL;
        Py_XDECREF(bytes);
        Py_XDECREF(items);
        if (run == NULL) return -1;
        PyObject *r = PyObject_CallOneArg(self->append, run);
        if (r == NULL) { Py_DECREF(run); return -1; }
        Py_DECREF(r);
        Py_XSETREF(self->run, run);
    } else {
        Py_DECREF(last);
    }
    PyObject *bytes = PyTuple_GET_ITEM(self->run, 1), *items = PyTuple_GET_ITEM(self->run, 2);
    Py_ssize_t n = PyByteArray_GET_SIZE(bytes);
    if (PyByteArray_Resize(bytes, n + 25) < 0) return -1;
    unsigned char *p = (unsigned char *)PyByteArray_AS_STRING(bytes) + n;
    p[0] = (unsigned char)kind;
    if (PyFloat_Pack8(t, (char *)p + 1, 1) < 0) return -1;
#if PY_LITTLE_ENDIAN
    memcpy(p + 9, ids, 16);
#else
    for (int k = 0; k < 2; k++) {
        uint64_t u = (uint64_t)ids[k];
        for (int j = 0; j < 8; j++) p[9 + 8 * k + j] = (unsigned char)(u >> (8 * j));
    }
#endif
    if (item != NULL && PyList_Append(items, item) < 0) return -1;
    return 0;
}

/* Every DUE_EVERY packed switches, the recorder's `due` (a thread that drops the GIL and takes it back at once, as a
 * gevent hub polling between rounds of greenlets does, keeps the flusher thread from the GIL: the program's thread
 * then writes the buffer out itself, at most every 50 ms); a failure there is not the switch's. */
#define DUE_EVERY 1024
static PyObject *packed(Hook *self, PyObject *event, PyObject *args) {
    if (self->due != NULL && ++self->since_due >= DUE_EVERY) {
        self->since_due = 0;
        PyObject *r = PyObject_CallNoArgs(self->due);
        if (r == NULL) PyErr_Clear();
        Py_XDECREF(r);
    }
    return chain(self, event, args);
}

/* A suspended greenlet's frame: its type's `gr_frame` descriptor called directly (what getattr finds, without the
 * attribute look-up on every switch); the look-up itself for a type with an attribute look-up of its own
 * (`__getattribute__`) or a `gr_frame` that is not a data descriptor. A new reference, or NULL. */
static PyObject *gr_frame(Hook *self, PyObject *g) {
    PyTypeObject *type = Py_TYPE(g);
    if (type->tp_getattro != PyObject_GenericGetAttr)
        return PyObject_GetAttr(g, str_gr_frame);
    if (type != self->frame_type) {
        Py_CLEAR(self->frame_type);
        Py_CLEAR(self->frame_get);
        PyObject *descr = PyObject_GetAttr((PyObject *)type, str_gr_frame);
        if (descr == NULL) return NULL;
        if (Py_TYPE(descr)->tp_descr_get == NULL || Py_TYPE(descr)->tp_descr_set == NULL) {
            Py_DECREF(descr);  /* not a data descriptor: the instance could shadow it */
            return PyObject_GetAttr(g, str_gr_frame);
        }
        Py_INCREF(type);
        self->frame_type = type;
        self->frame_get = descr;
    }
    return Py_TYPE(self->frame_get)->tp_descr_get(self->frame_get, g, (PyObject *)type);
}

static PyObject *Hook_switch(Hook *self, PyObject *event, PyObject *args) {
    if (!PyTuple_Check(args) || PyTuple_GET_SIZE(args) != 2)
        goto slow_nosig;
    PyObject *origin = PyTuple_GET_ITEM(args, 0), *target = PyTuple_GET_ITEM(args, 1);
    Py_ssize_t n_hubs = PySet_GET_SIZE(self->hubs);
    if (n_hubs != self->hubs_seen) {   /* a hub was added: the one-hub shortcut holds while there is one */
        self->hubs_seen = n_hubs;
        Py_CLEAR(self->hub_one);
        Py_CLEAR(self->hub_tid);
        if (n_hubs == 1) {
            PyObject *it = PyObject_GetIter(self->hubs);
            self->hub_one = it != NULL ? PyIter_Next(it) : NULL;   /* a new reference, or NULL */
            Py_XDECREF(it);
            if (PyErr_Occurred()) PyErr_Clear();
        }
    }
    if (self->hub_one != NULL && self->hub_tid == NULL) {  /* nearly every switch is to or from the hub */
        self->hub_tid = PyDict_GetItemWithError(self->tasks, self->hub_one);
        if (self->hub_tid == NULL && PyErr_Occurred()) PyErr_Clear();
        Py_XINCREF(self->hub_tid);
    }
    PyObject *otid = origin == self->hub_one && self->hub_tid ? self->hub_tid
                                                              : PyDict_GetItemWithError(self->tasks, origin);
    PyObject *ttid = otid == NULL ? NULL
                     : target == self->hub_one && self->hub_tid ? self->hub_tid
                                                                : PyDict_GetItemWithError(self->tasks, target);
    if (ttid == NULL) {
        if (PyErr_Occurred()) PyErr_Clear();
        goto slow_nosig;
    }
    int origin_is_hub, target_is_hub;
    if (self->hub_one != NULL) {
        origin_is_hub = origin == self->hub_one;
        target_is_hub = target == self->hub_one;
    } else {
        origin_is_hub = PySet_Contains(self->hubs, origin);
        target_is_hub = PySet_Contains(self->hubs, target);
        if (origin_is_hub < 0 || target_is_hub < 0) { PyErr_Clear(); goto slow_nosig; }
    }
    double t = now() - self->t0;
    PyObject *rec = NULL;
    if (origin_is_hub && !target_is_hub) {
        int added = run_add(self, 'H', t, otid, ttid, NULL);
        if (added < 0) return NULL;
        if (added == 0) return packed(self, event, args);
        rec = tuple4(self->tag_h, t, otid, ttid, NULL);
    } else if (target_is_hub && !origin_is_hub) {
        if (PySet_GET_SIZE(self->raw) && PySet_Contains(self->raw, origin) != 0) { PyErr_Clear(); goto slow_nosig; }
        PyObject *frame = gr_frame(self, origin);
        if (frame == NULL) { PyErr_Clear(); goto slow_nosig; }
        if (frame == Py_None) { Py_DECREF(frame); goto slow_nosig; }   /* finished: the Python hook ends it */
        unsigned long long h;
        signature(frame, &h);
        Slot *slot = table_find(&self->cache, h);
        PyObject *item = slot != NULL ? slot->value : NULL;
        if (item != NULL && PyLong_CheckExact(item)) {   /* a socket wait: the item depends on the socket */
            long depth = PyLong_AsLong(item);
            item = depth >= 0 && depth < MAX_DEPTH ? socket_item(self, frame, depth, h) : NULL;
            if (PyErr_Occurred()) PyErr_Clear();
        } else {
            Py_XINCREF(item);
        }
        Py_DECREF(frame);
        if (item == NULL) {
            PyObject *sig = PyLong_FromUnsignedLongLong(h);
            if (sig == NULL) return NULL;
            PyObject *r = call_slow(self, event, args, sig);
            Py_DECREF(sig);
            return r;   /* the Python hook chains to prev itself */
        }
        int added = run_add(self, 'Y', t, otid, ttid, item);
        if (added == 0) { Py_DECREF(item); return packed(self, event, args); }
        rec = added < 0 ? NULL : tuple4(self->tag_y, t, otid, ttid, item);
        Py_DECREF(item);
    } else {
        goto slow_nosig;
    }
    if (rec == NULL) return NULL;
    PyObject *r = PyObject_CallOneArg(self->append, rec);
    Py_DECREF(rec);
    if (r == NULL) return NULL;
    Py_DECREF(r);
    return chain(self, event, args);

slow_nosig:
    return call_slow(self, event, args, NULL);
}

/* greenlet calls its tracer as tracer(event, (origin, target)): with vectorcall, no tuple of the two is made */
static PyObject *Hook_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    if (PyVectorcall_NARGS(nargsf) != 2 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "expected (event, args)");
        return NULL;
    }
    return Hook_switch((Hook *)callable, args[0], args[1]);
}

/* remember(signature, value): what a wait at these frames is (an item), or the depth of its socket method. */
static PyObject *Hook_remember(Hook *self, PyObject *args) {
    unsigned long long sig;
    PyObject *value;
    if (!PyArg_ParseTuple(args, "KO", &sig, &value)) return NULL;
    if (!(PyLong_CheckExact(value) || (PyTuple_Check(value) && PyTuple_GET_SIZE(value) == 6))) {
        PyErr_SetString(PyExc_TypeError, "expected an item (a 6-tuple) or a depth");
        return NULL;
    }
    if (table_set(&self->cache, sig, 0, value) < 0) return NULL;
    Py_RETURN_NONE;
}

/* remember_socket(signature, socket, item): the item of a wait at these frames on this socket. False if the
 * socket takes no weak reference (the Python hook then explains each of its waits). */
static PyObject *Hook_remember_socket(Hook *self, PyObject *args) {
    unsigned long long sig;
    PyObject *sock, *item;
    if (!PyArg_ParseTuple(args, "KOO!", &sig, &sock, &PyTuple_Type, &item)) return NULL;
    if (PyTuple_GET_SIZE(item) != 6) { PyErr_SetString(PyExc_TypeError, "expected an item (a 6-tuple)"); return NULL; }
    PyObject *ref = PyWeakref_NewRef(sock, NULL);
    if (ref == NULL) { PyErr_Clear(); Py_RETURN_FALSE; }
    PyObject *entry = PyTuple_Pack(2, ref, item);
    Py_DECREF(ref);
    if (entry == NULL) return NULL;
    if (self->socks.used >= MAX_SOCKET_WAITS) table_clear(&self->socks);
    int r = table_set(&self->socks, socket_key(sig, sock), sig, entry);
    Py_DECREF(entry);
    if (r < 0) return NULL;
    Py_RETURN_TRUE;
}

static PyMethodDef Hook_methods[] = {
    {"remember", (PyCFunction)Hook_remember, METH_VARARGS,
     "remember(signature, item_or_depth): explain the waits at these frames from now on."},
    {"remember_socket", (PyCFunction)Hook_remember_socket, METH_VARARGS,
     "remember_socket(signature, socket, item): explain this socket's waits at these frames from now on."},
    {NULL, NULL, 0, NULL},
};

static int Hook_init(Hook *self, PyObject *args, PyObject *kwds) {
    PyObject *tasks, *hubs, *raw, *append, *slow, *socket_wait, *prev, *due = Py_None;
    double t0;
    if (!PyArg_ParseTuple(args, "O!O!O!OOOOd|O", &PyDict_Type, &tasks, &PySet_Type, &hubs, &PySet_Type, &raw,
                          &append, &slow, &socket_wait, &prev, &t0, &due))
        return -1;
    self->due = due == Py_None ? NULL : Py_NewRef(due);
    self->since_due = 0;
    Py_INCREF(tasks); Py_INCREF(hubs); Py_INCREF(raw);
    Py_INCREF(append); Py_INCREF(slow); Py_INCREF(socket_wait); Py_INCREF(prev);
    self->tasks = tasks; self->hubs = hubs; self->raw = raw;
    self->hub_one = self->hub_tid = NULL; self->hubs_seen = 0;
    self->append = append; self->slow = slow; self->socket_wait = socket_wait; self->prev = prev; self->t0 = t0;
    self->queue = PyObject_GetAttrString(append, "__self__");
    self->run = NULL;
    self->frame_type = NULL;
    self->frame_get = NULL;
    self->vectorcall = Hook_vectorcall;
    if (self->queue == NULL) return -1;
    self->tag_h = PyUnicode_InternFromString("H");
    self->tag_y = PyUnicode_InternFromString("Y");
    return 0;
}

static void Hook_dealloc(Hook *self) {
    Py_XDECREF(self->tasks); Py_XDECREF(self->hubs); Py_XDECREF(self->hub_one); Py_XDECREF(self->hub_tid);
    table_clear(&self->cache); table_clear(&self->socks);
    Py_XDECREF(self->raw); Py_XDECREF(self->append);
    Py_XDECREF(self->queue); Py_XDECREF(self->run);
    Py_XDECREF(self->slow); Py_XDECREF(self->socket_wait); Py_XDECREF(self->prev); Py_XDECREF(self->tag_h); Py_XDECREF(self->tag_y);
    Py_XDECREF(self->due);
    Py_XDECREF(self->frame_type); Py_XDECREF(self->frame_get);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* ---- Profiler: the generator/coroutine hook's filter, in C ---------------------------------------------------
 * A profile function is called on every call and return of every frame, and every C call. Only resumes and
 * suspensions of the script's own generator and coroutine code objects (and close()/throw() calls) matter, so this
 * checks the code object's flags, then a set, and calls the Python handler, handler(frame, event, arg), only for those.
 * Python 3.11 runs the profile path; 3.12+ follows generators with sys.monitoring instead (viz/recorder/monitoring.py). */
typedef struct {
    PyObject_HEAD
    PyObject *codes;    /* set of code objects */
    PyObject *handler;  /* Python callable(frame, event, arg) */
} Profiler;

static int profile_cb(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg) {
    Profiler *p = (Profiler *)obj;
    PyObject *event = NULL;
    if (what == PyTrace_CALL || what == PyTrace_RETURN) {
        PyCodeObject *code = PyFrame_GetCode(frame);
        /* most frames are not generators: their flags say so before the set is asked (hashing a code object hashes
         * its name, bytecode and constants on every lookup) */
        int hit = (code->co_flags & (CO_GENERATOR | CO_COROUTINE)) ? PySet_Contains(p->codes, (PyObject *)code) : 0;
        Py_DECREF(code);
        if (hit <= 0) { if (hit < 0) PyErr_Clear(); return 0; }
        event = what == PyTrace_CALL ? str_call : str_return;
    } else if (what == PyTrace_C_CALL || what == PyTrace_C_RETURN || what == PyTrace_C_EXCEPTION) {
        if (arg == NULL || !PyCFunction_Check(arg)) return 0;
        const char *name = ((PyCFunctionObject *)arg)->m_ml->ml_name;
        if (strcmp(name, "close") != 0 && strcmp(name, "throw") != 0) return 0;
        event = what == PyTrace_C_CALL ? str_c_call : what == PyTrace_C_RETURN ? str_c_return : str_c_exception;
    } else {
        return 0;
    }
    /* keep an exception being raised in the traced code intact around our call */
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    PyObject *r = PyObject_CallFunctionObjArgs(p->handler, (PyObject *)frame, event, arg ? arg : Py_None, NULL);
    if (r == NULL) PyErr_Clear();   /* the handler records its own errors; never disturb the program */
    Py_XDECREF(r);
    PyErr_Restore(et, ev, etb);
    return 0;
}

static int Profiler_init(Profiler *self, PyObject *args, PyObject *kwds) {
    PyObject *codes, *handler;
    if (!PyArg_ParseTuple(args, "O!O", &PySet_Type, &codes, &handler)) return -1;
    Py_INCREF(codes); Py_INCREF(handler);
    Py_XSETREF(self->codes, codes);
    Py_XSETREF(self->handler, handler);
    return 0;
}

static void Profiler_dealloc(Profiler *self) {
    Py_XDECREF(self->codes); Py_XDECREF(self->handler);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Profiler_install(Profiler *self, PyObject *unused) {
    PyEval_SetProfile(profile_cb, (PyObject *)self);
    Py_RETURN_NONE;
}

/* Called as a plain Python profile function (after sys.setprofile(this)): hand everything to the handler. */
static PyObject *Profiler_call(Profiler *self, PyObject *args, PyObject *kwargs) {
    return PyObject_Call(self->handler, args, kwargs);
}

static PyMethodDef Profiler_methods[] = {
    {"install", (PyCFunction)Profiler_install, METH_NOARGS, "Make this the profile function of the current thread."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ProfilerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "viz.recorder._fasthook.Profiler",
    .tp_basicsize = sizeof(Profiler),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Profiler_init,
    .tp_dealloc = (destructor)Profiler_dealloc,
    .tp_call = (ternaryfunc)Profiler_call,
    .tp_methods = Profiler_methods,
    .tp_doc = "Profile function that passes only the script's generator and coroutine frames to Python.",
};

static PyObject *py_signature(PyObject *mod, PyObject *frame) {
    if (!PyFrame_Check(frame)) {
        PyErr_SetString(PyExc_TypeError, "expected a frame");
        return NULL;
    }
    unsigned long long h;
    signature(frame, &h);
    return PyLong_FromUnsignedLongLong(h);
}

static PyObject *py_clock(PyObject *mod, PyObject *unused) { return PyFloat_FromDouble(now()); }

static PyTypeObject HookType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "viz.recorder._fasthook.Hook",
    .tp_basicsize = sizeof(Hook),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(Hook, vectorcall),
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Hook_init,
    .tp_dealloc = (destructor)Hook_dealloc,
    .tp_call = PyVectorcall_Call,
    .tp_methods = Hook_methods,
    .tp_doc = "Greenlet switch tracer: the hot path of viz's recorder.",
};

static PyMethodDef methods[] = {
    {"signature", py_signature, METH_O, "The hash of a frame chain, as the hook computes it."},
    {"clock", py_clock, METH_NOARGS, "The hook's clock (CLOCK_MONOTONIC, the clock of time.perf_counter)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fasthook", NULL, -1, methods};

PyMODINIT_FUNC PyInit__fasthook(void) {
    if (PyType_Ready(&HookType) < 0 || PyType_Ready(&ProfilerType) < 0) return NULL;
    str_gr_frame = PyUnicode_InternFromString("gr_frame");
    str_run = PyUnicode_InternFromString("R");
    str_self = PyUnicode_InternFromString("self");
    str_call = PyUnicode_InternFromString("call");
    str_return = PyUnicode_InternFromString("return");
    str_c_call = PyUnicode_InternFromString("c_call");
    str_c_return = PyUnicode_InternFromString("c_return");
    str_c_exception = PyUnicode_InternFromString("c_exception");
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&HookType);
    if (PyModule_AddObject(m, "Hook", (PyObject *)&HookType) < 0) { Py_DECREF(&HookType); Py_DECREF(m); return NULL; }
    Py_INCREF(&ProfilerType);
    if (PyModule_AddObject(m, "Profiler", (PyObject *)&ProfilerType) < 0) {
        Py_DECREF(&ProfilerType); Py_DECREF(m); return NULL;
    }
    return m;
}

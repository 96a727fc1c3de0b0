/* _fold: the trace model's hot loops, in C.
 *
 * - Folder.fold(trace, iterator): folds state records (viz.trace.record.StateRecord, see record.h) into the
 *   lanes' columns, exactly as viz.trace.model.Trace._add_many_py does, until the iterator ends (returns None)
 *   or gives any other record (returned, for Trace.add to fold).
 * - Folder.fold_columns(trace, payload, ...): the same for the columns of a binary trace block (viz.trace.binary),
 *   without a record object per span.
 * - scan_block(block, pos, loads, out, names): reads the lines of a block of a trace file and appends each plain
 *   state line as a StateRecord to `out`, exactly as viz.trace.format._plain_state decides, until the first
 *   line that is not one (the reference reader takes it).
 * - prefix_extend(...), prefix_at(...): the running totals per state of a lane's spans, as viz.trace.totals.Totals
 *   does in Python.
 * - long_spans(...), longest_span(...): a lane's spans by their length, for the findings and the report's labels
 *   (viz.views.diagnostics, viz.views.text), which fall back to Python loops without this module; ids_present(...):
 *   which of some wanted reasons a lane has (the findings).
 * - exact_row(...): a lane's display code per cell (viz.views.cells), for the report's swimlanes and the timeline;
 *   summary_fill(...): a lane's spans into the timeline's summary buckets (viz.app.lanes).
 *
 * A live run and a loaded file both spend most of their time here: a million records is a million trips through
 * these loops. The module is optional: without a compiler the Python code does the same, only slower; tests check
 * that both build the same model.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "record.h"
#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

static PyObject *str_state, *str_k, *str_t, *str_task, *str_reason, *str_file, *str_line, *str_blocks_loop;
static PyObject *str_lane_of, *str_lanes, *str_string_id, *str_steps, *str_steps_sorted, *str_end_time,
    *str_changes, *str_new_lane, *str_intern, *str_starts, *str_states, *str_flags, *str_reasons,
    *str_files, *str_lines, *str_frombytes, *str_typecode;

/* ---- Sink: one lane's columns, and what is folded into them but not yet written --------------------------- */
/* The arrays' append methods parse their argument with PyArg_Parse, which costs more than the rest of a record's
 * folding; so a lane's records gather in C buffers and go into its columns at once (`sink_flush`): the arrays with
 * one frombytes each, the bytearrays (states, flags) grown once. That happens when a buffer fills, and at the end of
 * every Trace.add_many (Folder.flush): until then all six columns are as they were, never some ahead of others. */
#define PENDING_MAX 256

typedef struct {
    PyObject_HEAD
    PyObject *starts, *states, *flags;                        /* array('d'), bytearray, bytearray */
    PyObject *put_start, *put_reason, *put_file, *put_line;   /* bound frombytes of starts, reasons, files, lines */
    Py_ssize_t n;                                             /* len(starts) once the pending ones are written */
    double last;                                              /* the last start, pending or written */
    int pending, cap, dirty;                                  /* buffered records; room; listed in Folder.dirty */
    double *p_start;                                          /* the buffers, allocated while records pend */
    int *p_reason, *p_file, *p_line;
    unsigned char *p_state, *p_flag;
} Sink;

static void sink_free_buffers(Sink *s) {
    PyMem_Free(s->p_start); PyMem_Free(s->p_reason); PyMem_Free(s->p_file); PyMem_Free(s->p_line);
    PyMem_Free(s->p_state); PyMem_Free(s->p_flag);
    s->p_start = NULL;
    s->p_reason = s->p_file = s->p_line = NULL;
    s->p_state = s->p_flag = NULL;
    s->cap = 0;
}

/* Room for one more pending record. */
static int sink_reserve(Sink *s) {
    if (s->pending < s->cap) return 0;
    int cap = s->cap ? s->cap * 4 : 8;
    if (cap > PENDING_MAX) cap = PENDING_MAX;
    double *a = PyMem_Realloc(s->p_start, cap * sizeof(double));
    if (a) s->p_start = a;
    int *b = a ? PyMem_Realloc(s->p_reason, cap * sizeof(int)) : NULL;
    if (b) s->p_reason = b;
    int *c = b ? PyMem_Realloc(s->p_file, cap * sizeof(int)) : NULL;
    if (c) s->p_file = c;
    int *d = c ? PyMem_Realloc(s->p_line, cap * sizeof(int)) : NULL;
    if (d) s->p_line = d;
    unsigned char *e = d ? PyMem_Realloc(s->p_state, cap) : NULL;
    if (e) s->p_state = e;
    unsigned char *f = e ? PyMem_Realloc(s->p_flag, cap) : NULL;
    if (f == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    s->p_flag = f;
    s->cap = cap;
    return 0;
}

static void Sink_dealloc(Sink *s) {
    Py_XDECREF(s->starts); Py_XDECREF(s->states); Py_XDECREF(s->flags);
    Py_XDECREF(s->put_start); Py_XDECREF(s->put_reason); Py_XDECREF(s->put_file); Py_XDECREF(s->put_line);
    sink_free_buffers(s);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static PyTypeObject SinkType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "viz.trace._fold.Sink",
    .tp_basicsize = sizeof(Sink),
    .tp_dealloc = (destructor)Sink_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
};

static PyObject *bound_frombytes(PyObject *lane, PyObject *name, char typecode) {
    PyObject *col = PyObject_GetAttr(lane, name);
    if (col == NULL) return NULL;
    PyObject *code = PyObject_GetAttr(col, str_typecode);
    int ok = code != NULL && PyUnicode_Check(code) && PyUnicode_GetLength(code) == 1 &&
             PyUnicode_READ_CHAR(code, 0) == (Py_UCS4)typecode;
    Py_XDECREF(code);
    if (!ok) {
        Py_DECREF(col);
        if (!PyErr_Occurred()) PyErr_Format(PyExc_TypeError, "a lane's %U must be an array('%c')", name, typecode);
        return NULL;
    }
    PyObject *m = PyObject_GetAttr(col, str_frombytes);
    Py_DECREF(col);
    return m;
}

static Sink *sink_new(PyObject *lane) {
    Sink *s = PyObject_New(Sink, &SinkType);
    if (s == NULL) return NULL;
    s->starts = s->states = s->flags = s->put_start = s->put_reason = s->put_file = s->put_line = NULL;
    s->n = -1;
    s->last = 0.0;
    s->pending = s->cap = s->dirty = 0;
    s->p_start = NULL;
    s->p_reason = s->p_file = s->p_line = NULL;
    s->p_state = s->p_flag = NULL;
    if (!(s->starts = PyObject_GetAttr(lane, str_starts)) || !(s->states = PyObject_GetAttr(lane, str_states)) ||
        !(s->flags = PyObject_GetAttr(lane, str_flags)) || !(s->put_start = bound_frombytes(lane, str_starts, 'd')) ||
        !(s->put_reason = bound_frombytes(lane, str_reasons, 'i')) ||
        !(s->put_file = bound_frombytes(lane, str_files, 'i')) ||
        !(s->put_line = bound_frombytes(lane, str_lines, 'i'))) {
        Py_DECREF(s);
        return NULL;
    }
    if (!PyByteArray_CheckExact(s->states) || !PyByteArray_CheckExact(s->flags)) {
        PyErr_SetString(PyExc_TypeError, "a lane's states and flags must be bytearrays");
        Py_DECREF(s);
        return NULL;
    }
    return s;
}

static int put(PyObject *frombytes, void *data, Py_ssize_t size) {
    PyObject *view = PyMemoryView_FromMemory((char *)data, size, PyBUF_READ);
    if (view == NULL) return -1;
    PyObject *r = PyObject_CallOneArg(frombytes, view);
    Py_DECREF(view);
    if (r == NULL) return -1;
    Py_DECREF(r);
    return 0;
}

/* Write the pending records into the lane's arrays (and give their buffers back unless more are coming). */
static int grow_bytes(PyObject *ba, const unsigned char *data, int k) {
    Py_ssize_t n = PyByteArray_GET_SIZE(ba);
    if (PyByteArray_Resize(ba, n + k) < 0) return -1;
    memcpy(PyByteArray_AS_STRING(ba) + n, data, (size_t)k);
    return 0;
}

static int sink_flush(Sink *s, int keep) {
    int k = s->pending, err = 0;
    s->pending = 0;
    if (k > 0 && (grow_bytes(s->states, s->p_state, k) < 0 || grow_bytes(s->flags, s->p_flag, k) < 0 ||
                  put(s->put_start, s->p_start, k * (Py_ssize_t)sizeof(double)) < 0 ||
                  put(s->put_reason, s->p_reason, k * (Py_ssize_t)sizeof(int)) < 0 ||
                  put(s->put_file, s->p_file, k * (Py_ssize_t)sizeof(int)) < 0 ||
                  put(s->put_line, s->p_line, k * (Py_ssize_t)sizeof(int)) < 0)) {
        s->n = -1;  /* read it all again next time */
        err = -1;
    }
    if (!keep) sink_free_buffers(s);
    return err;
}

/* The last start as the Python code would read it now: with nothing pending, something else (Trace.add) may
 * have appended since we last looked. */
static int sink_sync(Sink *s) {
    if (s->pending) return 0;
    Py_ssize_t n = PyObject_Length(s->starts);
    if (n < 0) return -1;
    if (n != s->n) {
        s->n = n;
        if (n > 0) {
            PyObject *v = PySequence_GetItem(s->starts, n - 1);
            if (v == NULL) return -1;
            s->last = PyFloat_AsDouble(v);
            Py_DECREF(v);
            if (s->last == -1.0 && PyErr_Occurred()) return -1;
        }
    }
    return 0;
}

/* A C int from an id or a line number, with array('i')'s errors. */
static int as_int(PyObject *v, int *out) {
    long x = PyLong_AsLong(v);
    if (x == -1 && PyErr_Occurred()) return -1;
    if (x > INT_MAX || x < INT_MIN) {
        PyErr_SetString(PyExc_OverflowError, "signed integer is out of range for a lane column");
        return -1;
    }
    *out = (int)x;
    return 0;
}

/* string id of s (None included), interning it through trace._intern when new. */
static int string_id_lookup(PyObject *trace, PyObject *ids, PyObject *s, int *out) {
    PyObject *i = PyDict_GetItemWithError(ids, s);
    if (i != NULL) return as_int(i, out);
    if (PyErr_Occurred()) return -1;
    i = PyObject_CallMethodOneArg(trace, str_intern, s);
    if (i == NULL) return -1;
    int r = as_int(i, out);
    Py_DECREF(i);
    return r;
}

/* ---- Folder --------------------------------------------------------------------------------------------- */
#define ID_CACHE 1024    /* str object -> its string id / state code: the scan hands out the same objects again */
#define SINK_CACHE 1024  /* task number -> Sink */

typedef struct { PyObject *key; int id; } IdSlot;

typedef struct {
    PyObject_HEAD
    PyObject *sinks;   /* dict task -> Sink */
    PyObject *dirty;   /* list of the Sinks with pending records */
    PyObject *codes;   /* dict state name -> code */
    IdSlot ids[ID_CACHE], states[8];                 /* keys held: an id never changes for the same string */
    struct { long task; Sink *sink; } sink_of[SINK_CACHE];  /* sinks borrowed from `sinks` (never removed) */
} Folder;

static inline IdSlot *id_slot(IdSlot *table, size_t size, PyObject *key) {
    return &table[((uintptr_t)key >> 4) & (size - 1)];
}

static void id_remember(IdSlot *slot, PyObject *key, int id) {
    Py_INCREF(key);
    Py_XSETREF(slot->key, key);
    slot->id = id;
}

static int Folder_init(Folder *self, PyObject *args, PyObject *kwds) {
    PyObject *codes;
    if (!PyArg_ParseTuple(args, "O!", &PyDict_Type, &codes)) return -1;
    Py_XSETREF(self->sinks, PyDict_New());
    Py_XSETREF(self->dirty, PyList_New(0));
    if (self->sinks == NULL || self->dirty == NULL) return -1;
    Py_INCREF(codes);
    Py_XSETREF(self->codes, codes);
    return 0;
}

static void Folder_dealloc(Folder *self) {
    for (int i = 0; i < ID_CACHE; i++) Py_XDECREF(self->ids[i].key);
    for (int i = 0; i < 8; i++) Py_XDECREF(self->states[i].key);
    Py_XDECREF(self->sinks);
    Py_XDECREF(self->dirty);
    Py_XDECREF(self->codes);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Folder_flush(Folder *self, PyObject *unused) {
    int err = 0;
    Py_ssize_t n = PyList_GET_SIZE(self->dirty);
    for (Py_ssize_t i = 0; i < n; i++) {
        Sink *s = (Sink *)PyList_GET_ITEM(self->dirty, i);
        s->dirty = 0;
        if (sink_flush(s, 0) < 0 && !err) err = -1;  /* flush the others all the same */
    }
    if (PyList_SetSlice(self->dirty, 0, n, NULL) < 0) return NULL;
    if (err) return NULL;
    Py_RETURN_NONE;
}

static Sink *folder_sink(Folder *self, PyObject *trace, PyObject *lane_of, PyObject *lanes, PyObject *task,
                         PyObject *t) {
    long key = -1;
    size_t slot = 0;
    if (PyLong_CheckExact(task)) {
        int overflow;
        key = PyLong_AsLongAndOverflow(task, &overflow);
        if (overflow || key < 0) key = -1;
        slot = (size_t)key & (SINK_CACHE - 1);
        if (key >= 0 && self->sink_of[slot].sink != NULL && self->sink_of[slot].task == key)
            return self->sink_of[slot].sink;
    }
    PyObject *s = PyDict_GetItemWithError(self->sinks, task);
    if (s != NULL) {
        if (key >= 0) {
            self->sink_of[slot].task = key;
            self->sink_of[slot].sink = (Sink *)s;
        }
        return (Sink *)s;  /* borrowed */
    }
    if (PyErr_Occurred()) return NULL;
    PyObject *lane;
    PyObject *i = PyDict_GetItemWithError(lane_of, task);
    if (i != NULL) {
        lane = PyObject_GetItem(lanes, i);
    } else {
        if (PyErr_Occurred()) return NULL;
        lane = PyObject_CallMethodObjArgs(trace, str_new_lane, task, t, NULL);
    }
    if (lane == NULL) return NULL;
    Sink *sink = sink_new(lane);
    Py_DECREF(lane);
    if (sink == NULL) return NULL;
    int err = PyDict_SetItem(self->sinks, task, (PyObject *)sink);
    Py_DECREF(sink);  /* the dict holds it */
    return err < 0 ? NULL : sink;
}

static int string_id(Folder *self, PyObject *trace, PyObject *ids, PyObject *s, int *out) {
    IdSlot *slot = id_slot(self->ids, ID_CACHE, s);
    if (slot->key == s) {
        *out = slot->id;
        return 0;
    }
    if (string_id_lookup(trace, ids, s, out) < 0) return -1;
    if (PyUnicode_CheckExact(s) || s == Py_None) id_remember(slot, s, *out);
    return 0;
}

static int state_code(Folder *self, PyObject *state, int *out) {
    IdSlot *slot = id_slot(self->states, 8, state);
    if (slot->key == state) {
        *out = slot->id;
        return 0;
    }
    PyObject *code = PyDict_GetItemWithError(self->codes, state);
    if (code == NULL) {
        if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, state);
        return -1;
    }
    if (as_int(code, out) < 0) return -1;
    if (PyUnicode_CheckExact(state)) id_remember(slot, state, *out);
    return 0;
}

/* One span appended to a lane's sink: its start `*t` (moved up to the lane's last start if earlier: a lane's starts
 * never go back), state code, flag and ids pending; the sink flushed when full, else listed as dirty for the
 * Folder's flush. 0, or -1 with an error set. */
static int sink_put(Folder *self, Sink *s, double *t, int code, int flag, int reason, int file, int line) {
    if (s->n > 0 && *t < s->last) *t = s->last;
    if (sink_reserve(s) < 0) return -1;
    int p = s->pending++;
    s->p_state[p] = (unsigned char)code;
    s->p_flag[p] = flag ? 1 : 0;
    s->p_start[p] = *t;
    s->p_reason[p] = reason;
    s->p_file[p] = file;
    s->p_line[p] = line;
    s->n += 1;
    s->last = *t;
    if (s->pending == PENDING_MAX) return sink_flush(s, 1);
    if (!s->dirty) {
        if (PyList_Append(self->dirty, (PyObject *)s) < 0) return -1;
        s->dirty = 1;
    }
    return 0;
}

/* Before a fold: the trace's end time, how many steps it has and the last of them (0.0 when none). 0, or -1 with an
 * error set. write_back() stores what the fold changed. */
static int read_back(PyObject *trace, double *end_time, PyObject *steps, Py_ssize_t *nsteps, double *last_step) {
    PyObject *v = PyObject_GetAttr(trace, str_end_time);
    if (v == NULL) return -1;
    *end_time = PyFloat_AsDouble(v);
    Py_DECREF(v);
    if (*end_time == -1.0 && PyErr_Occurred()) return -1;
    *nsteps = PyObject_Length(steps);
    if (*nsteps < 0) return -1;
    if (*nsteps > 0) {
        if (!(v = PySequence_GetItem(steps, *nsteps - 1))) return -1;
        *last_step = PyFloat_AsDouble(v);
        Py_DECREF(v);
        if (*last_step == -1.0 && PyErr_Occurred()) return -1;
    }
    return 0;
}

/* After a fold (Folder.fold, Folder.fold_columns), even one an error cut short: the steps it saw, the trace's end
 * time, its change count and whether its steps are still sorted, written back to the trace so the model stays
 * consistent with its columns. An error already set stays set (and the result is -1); else -1 if writing failed. */
static int write_back(PyObject *trace, PyObject *steps_put, double *new_step, Py_ssize_t new_steps, double end_time,
                      long long n, int sorted_ok) {
    PyObject *etype, *evalue, *etb;
    PyErr_Fetch(&etype, &evalue, &etb);
    int wb = new_steps ? put(steps_put, new_step, new_steps * (Py_ssize_t)sizeof(double)) : 0;
    PyObject *et = wb == 0 ? PyFloat_FromDouble(end_time) : NULL;
    wb = et == NULL ? -1 : PyObject_SetAttr(trace, str_end_time, et);
    Py_XDECREF(et);
    if (wb == 0 && n) {
        PyObject *ch = PyObject_GetAttr(trace, str_changes);
        PyObject *nn = ch ? PyLong_FromLongLong(n) : NULL;
        PyObject *sum = nn ? PyNumber_Add(ch, nn) : NULL;
        wb = sum ? PyObject_SetAttr(trace, str_changes, sum) : -1;
        Py_XDECREF(ch); Py_XDECREF(nn); Py_XDECREF(sum);
    }
    if (wb == 0 && !sorted_ok) wb = PyObject_SetAttr(trace, str_steps_sorted, Py_False);
    if (etype != NULL) {
        PyErr_Restore(etype, evalue, etb);
        return -1;
    }
    return wb < 0 ? -1 : 0;
}

static PyObject *Folder_fold(Folder *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "fold(trace, iterator)");
        return NULL;
    }
    PyObject *trace = args[0], *it = args[1];
    PyObject *lane_of = NULL, *lanes = NULL, *ids = NULL, *steps = NULL, *steps_put = NULL, *v = NULL;
    PyObject *rec = NULL;
    long long n = 0;
    int sorted_ok = 1, ok = 0;
    double end_time = 0.0, last_step = 0.0;
    Py_ssize_t nsteps, new_steps = 0, steps_cap = 0;
    double *new_step = NULL;

    if (!PyIter_Check(it)) {
        PyErr_SetString(PyExc_TypeError, "fold() needs an iterator");
        return NULL;
    }
    if (!(lane_of = PyObject_GetAttr(trace, str_lane_of)) || !(lanes = PyObject_GetAttr(trace, str_lanes)) ||
        !(ids = PyObject_GetAttr(trace, str_string_id)) || !(steps = PyObject_GetAttr(trace, str_steps)) ||
        !(steps_put = PyObject_GetAttr(steps, str_frombytes)))
        goto done;
    if (!PyDict_CheckExact(lane_of) || !PyDict_CheckExact(ids)) {
        PyErr_SetString(PyExc_TypeError, "trace._lane_of and trace._string_id must be dicts");
        goto done;
    }
    if (read_back(trace, &end_time, steps, &nsteps, &last_step) < 0) goto done;

    while ((rec = PyIter_Next(it)) != NULL) {
        if (!is_state_record(rec)) break;
        PyObject *tobj = PyTuple_GET_ITEM(rec, 1), *task = PyTuple_GET_ITEM(rec, 2);
        PyObject *state = PyTuple_GET_ITEM(rec, 3), *line = PyTuple_GET_ITEM(rec, 6);
        double t = PyFloat_AsDouble(tobj);
        if (t == -1.0 && PyErr_Occurred()) goto done;
        Sink *s = folder_sink(self, trace, lane_of, lanes, task, tobj);
        if (s == NULL || sink_sync(s) < 0) goto done;
        int c, reason, file, lineno = 0;
        if (state_code(self, state, &c) < 0) goto done;
        int flag = PyObject_IsTrue(PyTuple_GET_ITEM(rec, 7));
        if (flag < 0) goto done;
        int has_line = PyObject_IsTrue(line);
        if (has_line < 0 || (has_line && as_int(line, &lineno) < 0)) goto done;
        if (string_id(self, trace, ids, PyTuple_GET_ITEM(rec, 4), &reason) < 0 ||
            string_id(self, trace, ids, PyTuple_GET_ITEM(rec, 5), &file) < 0)
            goto done;
        /* everything read: fold it */
        n++;
        if (t > end_time) end_time = t;
        if (sink_put(self, s, &t, c, flag, reason, file, lineno) < 0) goto done;
        if (nsteps + new_steps > 0 && t < last_step) sorted_ok = 0;
        if (new_steps == steps_cap) {
            steps_cap = steps_cap ? steps_cap * 2 : 1024;
            double *grown = PyMem_Realloc(new_step, steps_cap * sizeof(double));
            if (grown == NULL) { PyErr_NoMemory(); goto done; }
            new_step = grown;
        }
        new_step[new_steps++] = t;
        last_step = t;
        Py_CLEAR(rec);
    }
    if (rec == NULL && PyErr_Occurred()) goto done;
    ok = 1;

done:
    Py_XDECREF(v);
    if (steps_put != NULL && write_back(trace, steps_put, new_step, new_steps, end_time, n, sorted_ok) < 0) ok = 0;
    PyMem_Free(new_step);
    Py_XDECREF(lane_of); Py_XDECREF(lanes); Py_XDECREF(ids); Py_XDECREF(steps); Py_XDECREF(steps_put);
    if (!ok) {
        Py_XDECREF(rec);
        return NULL;
    }
    if (rec != NULL) return rec;  /* the first record this does not fold */
    Py_RETURN_NONE;
}

/* fold_columns(trace, payload, offset, n, lo, hi, idmap): state records lo..hi-1 of a binary trace block's columns
 * (viz/trace/binary.py: n records at `offset` of `payload`, checked by its reader) folded as fold() folds the
 * same records as StateRecords, without making one: string ids go through idmap (array('i'): the file's id -> the
 * trace's). */
static PyObject *Folder_fold_columns(Folder *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "fold_columns(trace, payload, offset, n, lo, hi, idmap)");
        return NULL;
    }
    PyObject *trace = args[0];
    Py_ssize_t offset = PyLong_AsSsize_t(args[2]), n = PyLong_AsSsize_t(args[3]);
    Py_ssize_t lo = PyLong_AsSsize_t(args[4]), hi = PyLong_AsSsize_t(args[5]);
    if (PyErr_Occurred()) return NULL;
    Py_buffer pay = {0}, map = {0};
    PyObject *lane_of = NULL, *lanes = NULL, *steps = NULL, *steps_put = NULL, *v = NULL;
    long long count = 0;
    int sorted_ok = 1, ok = 0;
    double end_time = 0.0, last_step = 0.0;
    Py_ssize_t nsteps = 0, new_steps = 0;
    double *new_step = NULL;
    if (PyObject_GetBuffer(args[1], &pay, PyBUF_SIMPLE) < 0) return NULL;
    if (PyObject_GetBuffer(args[6], &map, PyBUF_FORMAT) < 0) goto done;
    if (map.itemsize != sizeof(int) || map.format == NULL || strcmp(map.format, "i") != 0) {
        PyErr_SetString(PyExc_TypeError, "fold_columns: idmap must be an array('i')");
        goto done;
    }
    if (offset < 0 || n < 0 || offset + n * 26 > pay.len || lo < 0 || hi > n || lo > hi) {
        PyErr_SetString(PyExc_ValueError, "fold_columns: records out of the block");
        goto done;
    }
    if (!(lane_of = PyObject_GetAttr(trace, str_lane_of)) || !(lanes = PyObject_GetAttr(trace, str_lanes)) ||
        !(steps = PyObject_GetAttr(trace, str_steps)) || !(steps_put = PyObject_GetAttr(steps, str_frombytes)))
        goto done;
    if (!PyDict_CheckExact(lane_of)) {
        PyErr_SetString(PyExc_TypeError, "trace._lane_of must be a dict");
        goto done;
    }
    if (read_back(trace, &end_time, steps, &nsteps, &last_step) < 0) goto done;
    if (hi > lo && (new_step = PyMem_Malloc((hi - lo) * sizeof(double))) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    const char *p = (const char *)pay.buf + offset;
    const int *ids = (const int *)map.buf;
    Py_ssize_t nids = map.len / (Py_ssize_t)sizeof(int);
    for (Py_ssize_t i = lo; i < hi; i++) {
        double t;
        int32_t task, line;
        uint32_t r, f;
        memcpy(&t, p + i * 8, 8);
        memcpy(&task, p + n * 8 + i * 4, 4);
        memcpy(&r, p + n * 12 + i * 4, 4);
        memcpy(&f, p + n * 16 + i * 4, 4);
        memcpy(&line, p + n * 20 + i * 4, 4);
        unsigned char c = (unsigned char)p[n * 24 + i], flag = (unsigned char)p[n * 25 + i];
        if ((Py_ssize_t)r >= nids || (Py_ssize_t)f >= nids || c >= 4) {
            PyErr_Format(PyExc_ValueError, "fold_columns: record %zd has a string id or state code out of range", i);
            goto done;
        }
        Sink *s;
        size_t slot = (size_t)(uint32_t)task & (SINK_CACHE - 1);
        if (task >= 0 && self->sink_of[slot].sink != NULL && self->sink_of[slot].task == task) {
            s = self->sink_of[slot].sink;
        } else {
            PyObject *tobj = PyFloat_FromDouble(t), *taskobj = PyLong_FromLong(task);
            s = tobj && taskobj ? folder_sink(self, trace, lane_of, lanes, taskobj, tobj) : NULL;
            Py_XDECREF(tobj);
            Py_XDECREF(taskobj);
            if (s == NULL) goto done;
        }
        if (sink_sync(s) < 0) goto done;
        count++;
        if (t > end_time) end_time = t;
        if (sink_put(self, s, &t, c, flag, ids[r], ids[f], line < 0 ? 0 : line) < 0) goto done;
        if (nsteps + new_steps > 0 && t < last_step) sorted_ok = 0;
        new_step[new_steps++] = t;
        last_step = t;
    }
    ok = 1;
done:
    Py_XDECREF(v);
    if (steps_put != NULL && write_back(trace, steps_put, new_step, new_steps, end_time, count, sorted_ok) < 0) ok = 0;
    PyMem_Free(new_step);
    if (map.obj) PyBuffer_Release(&map);
    PyBuffer_Release(&pay);
    Py_XDECREF(lane_of); Py_XDECREF(lanes); Py_XDECREF(steps); Py_XDECREF(steps_put);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef Folder_methods[] = {
    {"fold", (PyCFunction)(void (*)(void))Folder_fold, METH_FASTCALL,
     "fold(trace, iterator): fold state records into trace; return the first other record, or None.\n"
     "Some columns may stay pending until flush()."},
    {"flush", (PyCFunction)Folder_flush, METH_NOARGS, "flush(): write every pending record into its lane."},
    {"fold_columns", (PyCFunction)(void (*)(void))Folder_fold_columns, METH_FASTCALL,
     "fold_columns(trace, payload, offset, n, lo, hi, idmap): fold records lo..hi-1 of a binary trace block's\n"
     "columns (viz.trace.binary) as fold() folds the same records."},
    {NULL}};

static PyTypeObject FolderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "viz.trace._fold.Folder",
    .tp_basicsize = sizeof(Folder),
    .tp_dealloc = (destructor)Folder_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Folder(state_codes): folds state records into a Trace's lanes.",
    .tp_methods = Folder_methods,
    .tp_init = (initproc)Folder_init,
    .tp_new = PyType_GenericNew,
};

/* ---- scan: plain state lines of a trace file -> StateRecords ------------------------------------------ */

/* -1 error, 0 not a plain state, 1 plain: *out gets its StateRecord. Mirrors format._plain_state. */
static int plain_state(PyObject *rec, PyObject *state_names, PyObject **out) {
    if (!PyDict_CheckExact(rec)) return 0;
    PyObject *k = PyDict_GetItemWithError(rec, str_k);
    if (k == NULL) return PyErr_Occurred() ? -1 : 0;
    PyObject *t = PyDict_GetItemWithError(rec, str_t);
    if (t == NULL) return PyErr_Occurred() ? -1 : 0;
    PyObject *task = PyDict_GetItemWithError(rec, str_task);
    if (task == NULL) return PyErr_Occurred() ? -1 : 0;
    PyObject *state = PyDict_GetItemWithError(rec, str_state);
    if (state == NULL) return PyErr_Occurred() ? -1 : 0;
    if (!PyUnicode_CheckExact(k) || PyUnicode_Compare(k, str_state) != 0) return 0;
    if (PyFloat_CheckExact(t)) {
        double d = PyFloat_AS_DOUBLE(t);
        if (!(d > -9.0e18 && d < 9.0e18)) return 0;
    } else if (PyLong_CheckExact(t)) {
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(t, &overflow);
        if (overflow || (x == -1 && PyErr_Occurred())) { PyErr_Clear(); return 0; }
        if (!(x > -9000000000000000000LL && x < 9000000000000000000LL)) return 0;
    } else {
        return 0;
    }
    if (!PyLong_CheckExact(task) || !PyUnicode_CheckExact(state)) return 0;
    int in = PySet_Contains(state_names, state);
    if (in <= 0) return in;
    Py_ssize_t fields = 4;
    PyObject *reason = PyDict_GetItemWithError(rec, str_reason);
    if (reason != NULL) {
        fields++;
        if (reason != Py_None && !PyUnicode_CheckExact(reason)) return 0;
    } else if (PyErr_Occurred()) return -1;
    PyObject *file = PyDict_GetItemWithError(rec, str_file);
    if (file != NULL) {
        fields++;
        if (file != Py_None && !PyUnicode_CheckExact(file)) return 0;
    } else if (PyErr_Occurred()) return -1;
    PyObject *line = PyDict_GetItemWithError(rec, str_line);
    if (line != NULL) {
        fields++;
        if (line != Py_None) {
            if (!PyLong_CheckExact(line)) return 0;
            int overflow;
            long long x = PyLong_AsLongLongAndOverflow(line, &overflow);
            if (overflow || (x == -1 && PyErr_Occurred())) { PyErr_Clear(); return 0; }
            if (x < 0 || x >= 2147483648LL) return 0;
        }
    } else if (PyErr_Occurred()) return -1;
    PyObject *blocks = PyDict_GetItemWithError(rec, str_blocks_loop);
    if (blocks != NULL) {
        fields++;
        if (blocks != Py_None && !PyBool_Check(blocks)) return 0;
    } else if (PyErr_Occurred()) return -1;
    if (PyDict_GET_SIZE(rec) != fields) return 0;
    PyObject *items[8] = {str_state, t, task, state, reason ? reason : Py_None, file ? file : Py_None,
                          line ? line : Py_None, blocks == Py_True ? Py_True : Py_False};
    PyObject *made = new_state_record(items);
    if (made == NULL) return -1;
    *out = made;
    return 1;
}

/* ---- a state line as TraceWriter writes it, read without building a dict ----------------------------------- */
/* `{"k":"state","t":1.5,"task":3,"state":"blocked","reason":"...","file":"...","line":7,"blocks_loop":true}`:
 * keys from that set, each at most once, in any order, no whitespace, strings without escapes or control
 * characters. Anything else (whitespace, an escape, another key, a number beyond 18 digits, ...) is not decided
 * here: the caller hands the line to orjson and _plain_state. Numbers are converted as the json module does
 * (int of the digits; float of the literal, correctly rounded). */

#define STR_CACHE 4096  /* direct-mapped: the reasons and files of a trace repeat */
static struct { uint64_t h; Py_ssize_t n; const char *utf8; PyObject *s; } str_cache[STR_CACHE];

static PyObject *cached_str(const char *p, Py_ssize_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    size_t slot = (size_t)(h & (STR_CACHE - 1));
    if (str_cache[slot].s != NULL && str_cache[slot].h == h && str_cache[slot].n == n &&
        memcmp(str_cache[slot].utf8, p, n) == 0) {
        Py_INCREF(str_cache[slot].s);
        return str_cache[slot].s;
    }
    PyObject *s = PyUnicode_DecodeUTF8(p, n, "strict");
    if (s == NULL) return NULL;
    Py_ssize_t m;
    const char *utf8 = PyUnicode_AsUTF8AndSize(s, &m);  /* kept by the str itself while it lives */
    if (utf8 == NULL || m != n) {
        PyErr_Clear();
        return s;
    }
    Py_INCREF(s);
    Py_XSETREF(str_cache[slot].s, s);
    str_cache[slot].h = h;
    str_cache[slot].n = n;
    str_cache[slot].utf8 = utf8;
    return s;
}

enum { F_K, F_T, F_TASK, F_STATE, F_REASON, F_FILE, F_LINE, F_BLOCKS, F_COUNT };

static int key_of(const char *p, Py_ssize_t n) {
    switch (n) {
    case 1: return p[0] == 'k' ? F_K : p[0] == 't' ? F_T : -1;
    case 4: return memcmp(p, "task", 4) == 0 ? F_TASK : memcmp(p, "file", 4) == 0 ? F_FILE
                 : memcmp(p, "line", 4) == 0 ? F_LINE : -1;
    case 5: return memcmp(p, "state", 5) == 0 ? F_STATE : -1;
    case 6: return memcmp(p, "reason", 6) == 0 ? F_REASON : -1;
    case 11: return memcmp(p, "blocks_loop", 11) == 0 ? F_BLOCKS : -1;
    default: return -1;
    }
}

/* One JSON value at *pp (not past end): a new reference, or NULL with no error set for "not decided here". */
static PyObject *fast_value(const char **pp, const char *end) {
    const char *p = *pp;
    if (p >= end) return NULL;
    if (*p == '"') {
        const char *q = ++p;
        while (q < end && *q != '"') {
            if (*q == '\\' || (unsigned char)*q < 0x20) return NULL;
            q++;
        }
        if (q >= end) return NULL;
        PyObject *s = cached_str(p, q - p);
        if (s == NULL) PyErr_Clear();  /* not UTF-8: the reference says so */
        *pp = q + 1;
        return s;
    }
    if (*p == 't' && end - p >= 4 && memcmp(p, "true", 4) == 0) { *pp = p + 4; Py_RETURN_TRUE; }
    if (*p == 'f' && end - p >= 5 && memcmp(p, "false", 5) == 0) { *pp = p + 5; Py_RETURN_FALSE; }
    if (*p == 'n' && end - p >= 4 && memcmp(p, "null", 4) == 0) { *pp = p + 4; Py_RETURN_NONE; }
    /* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
    const char *s = p;
    int is_float = 0;
    if (p < end && *p == '-') p++;
    if (p >= end || !isdigit((unsigned char)*p)) return NULL;
    if (*p == '0') p++;
    else while (p < end && isdigit((unsigned char)*p)) p++;
    if (p < end && *p == '.') {
        is_float = 1;
        p++;
        if (p >= end || !isdigit((unsigned char)*p)) return NULL;
        while (p < end && isdigit((unsigned char)*p)) p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        is_float = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || !isdigit((unsigned char)*p)) return NULL;
        while (p < end && isdigit((unsigned char)*p)) p++;
    }
    Py_ssize_t n = p - s;
    *pp = p;
    /* the digits as an integer m (up to 19 significant ones) and a power of ten */
    const char *q = s;
    int neg = 0, digits = 0, exp10 = 0;
    uint64_t m = 0;
    if (*q == '-') { neg = 1; q++; }
    for (; q < p && isdigit((unsigned char)*q); q++) {
        if (m || *q != '0') { m = m * 10 + (uint64_t)(*q - '0'); digits++; }
        if (digits > 18) break;
    }
    if (!is_float) {
        if (digits > 18) return NULL;
        return PyLong_FromLongLong(neg ? -(long long)m : (long long)m);
    }
    if (digits <= 18 && q < p && *q == '.') {
        for (q++; q < p && isdigit((unsigned char)*q); q++) {
            if (m || *q != '0') { m = m * 10 + (uint64_t)(*q - '0'); digits++; }
            exp10--;
            if (digits > 18) break;
        }
    }
    if (digits <= 18 && (q == p || *q == 'e' || *q == 'E')) {
        int e = 0, eneg = 0, ok = 1;
        if (q < p) {
            q++;
            if (*q == '+' || *q == '-') eneg = *q++ == '-';
            for (; q < p; q++) {
                e = e * 10 + (*q - '0');
                if (e > 400) { ok = 0; break; }
            }
        }
        exp10 += eneg ? -e : e;
        static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                       1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
        if (ok && digits <= 15 && exp10 >= -22 && exp10 <= 22) {  /* Clinger: exact operands, one rounding */
            double d = exp10 < 0 ? (double)m / pow10[-exp10] : (double)m * pow10[exp10];
            return PyFloat_FromDouble(neg ? -d : d);
        }
#if LDBL_MANT_DIG >= 64
        /* 16-18 digits (a float's repr has up to 17): m and 10^k (k <= 27) are exact in x87's 64-bit mantissa, so
         * x = m / 10^k comes out rounded once, to within half a unit of its 64th bit. Rounding that to a double is
         * x's correct rounding unless it lies next to the midpoint between two doubles (the 11 bits below a
         * double's 53 near 10000000000b): those few go to the slow path. */
        if (ok && m != 0 && exp10 >= -27 && exp10 <= 27) {
            static const long double pow10l[] = {
                1e0L, 1e1L, 1e2L, 1e3L, 1e4L, 1e5L, 1e6L, 1e7L, 1e8L, 1e9L, 1e10L, 1e11L, 1e12L, 1e13L, 1e14L,
                1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
            long double x = exp10 < 0 ? (long double)m / pow10l[-exp10] : (long double)m * pow10l[exp10];
            int ex;
            long double frac = frexpl(x, &ex);  /* x = frac * 2^ex, frac in [0.5, 1) */
            uint64_t bits = (uint64_t)ldexpl(frac, 64);  /* the 64-bit mantissa, exactly */
            unsigned low = (unsigned)(bits & 0x7FF);
            if (ex > -1021 && ex < 1024 && (low < 0x3FF || low > 0x401)) {
                double d = (double)x;
                return PyFloat_FromDouble(neg ? -d : d);
            }
        }
#endif
    }
    if (n > 40) return NULL;
    char buf[48];
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *stop;
    double d = PyOS_string_to_double(buf, &stop, NULL);
    if (d == -1.0 && PyErr_Occurred()) { PyErr_Clear(); return NULL; }
    if (stop != buf + n) return NULL;
    return PyFloat_FromDouble(d);
}

/* -1 error, 0 not decided here, 1 a plain state record: *out gets its StateRecord. */
static int fast_state_line(const char *p, Py_ssize_t len, PyObject *names, PyObject **out) {
    const char *end = p + len;
    PyObject *v[F_COUNT] = {NULL};
    int r = 0;
    if (p >= end || *p++ != '{') return 0;
    for (;;) {
        if (p >= end || *p++ != '"') goto finish;
        const char *k = p;
        while (p < end && *p != '"') p++;
        if (p >= end) goto finish;
        int f = key_of(k, p - k);
        p++;
        if (f < 0 || v[f] != NULL || p >= end || *p++ != ':') goto finish;
        if ((v[f] = fast_value(&p, end)) == NULL) {
            if (PyErr_Occurred()) r = -1;
            goto finish;
        }
        if (p < end && *p == ',') { p++; continue; }
        if (p < end && *p == '}' && p + 1 == end) break;
        goto finish;
    }
    /* the checks of _plain_state */
    if (!v[F_K] || !v[F_T] || !v[F_TASK] || !v[F_STATE]) goto finish;
    if (!PyUnicode_Check(v[F_K]) || PyUnicode_Compare(v[F_K], str_state) != 0) goto finish;
    if (PyFloat_CheckExact(v[F_T])) {
        double d = PyFloat_AS_DOUBLE(v[F_T]);
        if (!(d > -9.0e18 && d < 9.0e18)) goto finish;
    } else if (!PyLong_CheckExact(v[F_T])) {
        goto finish;  /* (an int of up to 18 digits is within the bounds) */
    }
    if (!PyLong_CheckExact(v[F_TASK]) || !PyUnicode_Check(v[F_STATE])) goto finish;
    int in = PySet_Contains(names, v[F_STATE]);
    if (in <= 0) { r = in; goto finish; }
    if (v[F_REASON] && v[F_REASON] != Py_None && !PyUnicode_Check(v[F_REASON])) goto finish;
    if (v[F_FILE] && v[F_FILE] != Py_None && !PyUnicode_Check(v[F_FILE])) goto finish;
    if (v[F_LINE] && v[F_LINE] != Py_None) {
        if (!PyLong_CheckExact(v[F_LINE])) goto finish;
        long long x = PyLong_AsLongLong(v[F_LINE]);
        if (x < 0 || x >= 2147483648LL) goto finish;
    }
    if (v[F_BLOCKS] && v[F_BLOCKS] != Py_None && !PyBool_Check(v[F_BLOCKS])) goto finish;
    PyObject *items[8] = {str_state};
    for (int i = F_T; i < F_COUNT; i++) items[i] = v[i] ? v[i] : Py_None;
    if (items[F_BLOCKS] != Py_True) items[F_BLOCKS] = Py_False;
    PyObject *rec = new_state_record(items);
    if (rec == NULL) { r = -1; goto finish; }
    *out = rec;
    r = 1;
finish:
    for (int i = 0; i < F_COUNT; i++) Py_XDECREF(v[i]);
    return r;
}

/* scan_block(block, pos, loads, out, state_names) -> (pos, lines, end): reads the lines of `block` (bytes of whole
 * lines) from byte offset pos, appending each plain state line to `out` as a StateRecord, until a line that is
 * not one: returns its offset, the number of lines read before it and the offset of its newline (or len(block)
 * and the lines read, when all were plain). A line the fast parser does not decide goes to `loads` (orjson) and
 * the checks of _plain_state. */
static PyObject *py_scan_block(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5 || !PyBytes_CheckExact(args[0]) || !PyList_CheckExact(args[3])) {
        PyErr_SetString(PyExc_TypeError, "scan_block(block: bytes, pos: int, loads, out: list, state_names: set)");
        return NULL;
    }
    PyObject *block = args[0], *loads = args[2], *out = args[3], *names = args[4];
    const char *buf = PyBytes_AS_STRING(block);
    Py_ssize_t n = PyBytes_GET_SIZE(block), lines = 0, end = n;
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred()) return NULL;
    if (pos < 0 || pos > n) {
        PyErr_SetString(PyExc_IndexError, "scan_block: pos out of the block");
        return NULL;
    }
    while (pos < n) {
        const char *nl = memchr(buf + pos, '\n', (size_t)(n - pos));
        end = nl != NULL ? nl - buf : n;
        PyObject *tup = NULL;
        int plain = fast_state_line(buf + pos, end - pos, names, &tup);
        if (plain < 0) return NULL;
        if (plain == 0) {
            PyObject *line = PyBytes_FromStringAndSize(buf + pos, end - pos);
            if (line == NULL) return NULL;
            PyObject *rec = PyObject_CallOneArg(loads, line);
            Py_DECREF(line);
            if (rec == NULL) {
                if (PyErr_ExceptionMatches(PyExc_ValueError) || PyErr_ExceptionMatches(PyExc_RecursionError)) {
                    PyErr_Clear();
                    break;  /* the reference reader says what is wrong with it */
                }
                return NULL;
            }
            plain = plain_state(rec, names, &tup);
            Py_DECREF(rec);
            if (plain < 0) return NULL;
            if (plain == 0) break;
        }
        int err = PyList_Append(out, tup);
        Py_DECREF(tup);
        if (err < 0) return NULL;
        lines++;
        pos = end + 1;
        end = n;
    }
    if (pos > n) pos = n;
    return Py_BuildValue("(nnn)", pos, lines, end);
}

/* ---- prefix_extend, prefix_at: the running totals per state of a lane's spans (viz.trace.totals) -------------- */

/* The buffer of a lane's starts, an array('d'): the number of spans, or -1 with an error set (nothing held). */
static Py_ssize_t starts_buffer(PyObject *starts, Py_buffer *st) {
    if (PyObject_GetBuffer(starts, st, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) return -1;
    if (st->itemsize != sizeof(double) || st->format == NULL || strcmp(st->format, "d") != 0) {
        PyErr_SetString(PyExc_TypeError, "starts must be an array('d')");
        PyBuffer_Release(st);
        return -1;
    }
    return st->len / (Py_ssize_t)sizeof(double);
}

/* The buffers of a lane's starts (array('d')), state codes and flags (bytes-like), checked against span range
 * [lo, hi): 0, or -1 with an error set (the buffers are released either way on error). */
static int lane_buffers(PyObject *const *args, Py_ssize_t lo, Py_ssize_t hi, Py_buffer *st, Py_buffer *codes,
                        Py_buffer *flags) {
    Py_ssize_t n = starts_buffer(args[0], st);
    if (n < 0) return -1;
    if (PyObject_GetBuffer(args[1], codes, PyBUF_SIMPLE) < 0) goto fail;
    if (PyObject_GetBuffer(args[2], flags, PyBUF_SIMPLE) < 0) goto fail;
    if (lo < 0 || hi < lo || hi + 1 > n || hi > codes->len || hi > flags->len) {
        PyErr_SetString(PyExc_IndexError, "span range out of the lane");
        goto fail;
    }
    return 0;
fail:
    if (st->obj) PyBuffer_Release(st);
    if (codes->obj) PyBuffer_Release(codes);
    if (flags->obj) PyBuffer_Release(flags);
    return -1;
}

/* sums[k][index] as a double: 0, or -1 with an error set. */
static int sum_item(PyObject *sums, Py_ssize_t k, Py_ssize_t index, double *out) {
    PyObject *v = PySequence_GetItem(PyList_GET_ITEM(sums, k), index);
    if (v == NULL) return -1;
    *out = PyFloat_AsDouble(v);
    Py_DECREF(v);
    return *out == -1.0 && PyErr_Occurred() ? -1 : 0;
}

/* Spans [lo, hi) added to acc in order, those in state k (k == nsums - 1: those that block the loop). The same
 * additions as the Python code makes (accumulate over duration * 0-or-1), so both give the same bits. */
static double add_spans(double acc, const double *t, const unsigned char *c, const unsigned char *f,
                        Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t k, int loop) {
    for (Py_ssize_t i = lo; i < hi; i++) {
        double d = t[i + 1] - t[i];
        acc = acc + ((loop ? f[i] != 0 : c[i] == k) ? d * 1.0 : d * 0.0);
    }
    return acc;
}

static PyObject *py_prefix_extend(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 7 || !PyList_CheckExact(args[3])) {
        PyErr_SetString(PyExc_TypeError, "prefix_extend(starts, states, flags, sums: list, lo, hi, stride)");
        return NULL;
    }
    Py_ssize_t lo = PyLong_AsSsize_t(args[4]), hi = PyLong_AsSsize_t(args[5]), stride = PyLong_AsSsize_t(args[6]);
    if ((lo == -1 || hi == -1 || stride == -1) && PyErr_Occurred()) return NULL;
    if (stride < 1 || lo % stride || hi % stride) {
        PyErr_SetString(PyExc_ValueError, "prefix_extend: lo and hi must be multiples of stride");
        return NULL;
    }
    PyObject *sums = args[3];
    Py_ssize_t nsums = PyList_GET_SIZE(sums);
    Py_buffer st = {0}, codes = {0}, flags = {0};
    if (lane_buffers(args, lo, hi, &st, &codes, &flags) < 0) return NULL;
    PyObject *result = NULL;
    double *out = NULL;
    if (hi == lo) { result = Py_None; Py_INCREF(result); goto done; }
    const double *t = (const double *)st.buf;
    const unsigned char *c = (const unsigned char *)codes.buf, *f = (const unsigned char *)flags.buf;
    Py_ssize_t groups = (hi - lo) / stride;
    out = PyMem_Malloc(groups * sizeof(double));
    if (out == NULL) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t k = 0; k < nsums; k++) {
        PyObject *arr = PyList_GET_ITEM(sums, k);
        Py_ssize_t len = PyObject_Length(arr);
        if (len < 1) { if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "an empty sum"); goto done; }
        double acc;
        if (sum_item(sums, k, len - 1, &acc) < 0) goto done;
        int loop = k == nsums - 1;
        for (Py_ssize_t g = 0; g < groups; g++) {
            acc = add_spans(acc, t, c, f, lo + g * stride, lo + (g + 1) * stride, k, loop);
            out[g] = acc;
        }
        PyObject *view = PyMemoryView_FromMemory((char *)out, groups * (Py_ssize_t)sizeof(double), PyBUF_READ);
        if (view == NULL) goto done;
        PyObject *r = PyObject_CallMethodOneArg(arr, str_frombytes, view);
        Py_DECREF(view);
        if (r == NULL) goto done;
        Py_DECREF(r);
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyMem_Free(out);
    PyBuffer_Release(&st);
    PyBuffer_Release(&codes);
    PyBuffer_Release(&flags);
    return result;
}

static PyObject *py_prefix_at(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 7 || !PyList_CheckExact(args[3])) {
        PyErr_SetString(PyExc_TypeError, "prefix_at(starts, states, flags, sums: list, j, lo, hi)");
        return NULL;
    }
    Py_ssize_t j = PyLong_AsSsize_t(args[4]), lo = PyLong_AsSsize_t(args[5]), hi = PyLong_AsSsize_t(args[6]);
    if ((j == -1 || lo == -1 || hi == -1) && PyErr_Occurred()) return NULL;
    PyObject *sums = args[3];
    Py_ssize_t nsums = PyList_GET_SIZE(sums);
    Py_buffer st = {0}, codes = {0}, flags = {0};
    if (lane_buffers(args, lo, hi, &st, &codes, &flags) < 0) return NULL;
    const double *t = (const double *)st.buf;
    const unsigned char *c = (const unsigned char *)codes.buf, *f = (const unsigned char *)flags.buf;
    PyObject *result = PyList_New(nsums);
    for (Py_ssize_t k = 0; result != NULL && k < nsums; k++) {
        double acc;
        PyObject *v = NULL;
        if (sum_item(sums, k, j, &acc) == 0)
            v = PyFloat_FromDouble(add_spans(acc, t, c, f, lo, hi, k, k == nsums - 1));
        if (v == NULL) { Py_CLEAR(result); break; }
        PyList_SET_ITEM(result, k, v);
    }
    PyBuffer_Release(&st);
    PyBuffer_Release(&codes);
    PyBuffer_Release(&flags);
    return result;
}

/* ---- long_spans, longest_span: a lane's spans by length, for the report and the findings (viz.views) ---------- */

/* The buffers of a lane's starts (array('d')) and state codes: n spans, or -1 with an error set. */
static Py_ssize_t span_buffers(PyObject *starts, PyObject *states, Py_buffer *st, Py_buffer *codes) {
    Py_ssize_t n = starts_buffer(starts, st);
    if (n < 0) return -1;
    if (PyObject_GetBuffer(states, codes, PyBUF_SIMPLE) < 0) { PyBuffer_Release(st); return -1; }
    if (codes->len < n) {
        PyErr_SetString(PyExc_TypeError, "states must hold a code per span");
        PyBuffer_Release(st);
        PyBuffer_Release(codes);
        return -1;
    }
    return n;
}

/* long_spans(starts, states, end, code, limit) -> [i, ...]: the spans in state `code` that last `limit` seconds or
 * more (span i ends where span i + 1 starts; the last one at `end`), as viz.views.diagnostics._long. */
static PyObject *py_long_spans(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "long_spans(starts, states, end, code, limit)");
        return NULL;
    }
    double end = PyFloat_AsDouble(args[2]), limit = PyFloat_AsDouble(args[4]);
    long code = PyLong_AsLong(args[3]);
    if (PyErr_Occurred()) return NULL;
    Py_buffer st, codes;
    Py_ssize_t n = span_buffers(args[0], args[1], &st, &codes);
    if (n < 0) return NULL;
    const double *t = (const double *)st.buf;
    const unsigned char *c = (const unsigned char *)codes.buf;
    PyObject *out = PyList_New(0);
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        if (c[i] != code || (i + 1 < n ? t[i + 1] : end) - t[i] < limit) continue;
        PyObject *v = PyLong_FromSsize_t(i);
        if (v == NULL || PyList_Append(out, v) < 0) Py_CLEAR(out);
        Py_XDECREF(v);
    }
    PyBuffer_Release(&st);
    PyBuffer_Release(&codes);
    return out;
}

/* longest_span(starts, states, end, skip) -> i: the first of the longest spans not in state `skip` (span i ends where
 * span i + 1 starts; the last one at `end`), or -1 when none lasts more than 0 s (viz.views.text's lane labels). */
static PyObject *py_longest_span(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "longest_span(starts, states, end, skip)");
        return NULL;
    }
    double end = PyFloat_AsDouble(args[2]);
    long skip = PyLong_AsLong(args[3]);
    if (PyErr_Occurred()) return NULL;
    Py_buffer st, codes;
    Py_ssize_t n = span_buffers(args[0], args[1], &st, &codes);
    if (n < 0) return NULL;
    const double *t = (const double *)st.buf;
    const unsigned char *c = (const unsigned char *)codes.buf;
    Py_ssize_t best = -1;
    double best_d = 0.0;
    for (Py_ssize_t i = 0; i < n; i++) {
        double d = (i + 1 < n ? t[i + 1] : end) - t[i];
        if (c[i] != skip && d > best_d) { best = i; best_d = d; }
    }
    PyBuffer_Release(&st);
    PyBuffer_Release(&codes);
    return PyLong_FromSsize_t(best);
}

/* ---- exact_row: a lane's display code per cell, for the report's swimlanes and the timeline (viz.views.cells) --- */

static Py_ssize_t bisect_left_d(const double *t, Py_ssize_t lo, Py_ssize_t hi, double x) {
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (t[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static Py_ssize_t bisect_right_d(const double *t, Py_ssize_t lo, Py_ssize_t hi, double x) {
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (x < t[mid]) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* exact_row(starts, codes, end, edges) -> bytearray: cell c (the instants [edges[c], edges[c + 1])) holds the highest
 * display code among the spans overlapping it (a span lasts until the next one starts, the last one until `end`; a
 * span of no length counts at its instant), 0 where none does: viz.views.cells.exact_cell for every cell. */
static PyObject *py_exact_row(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4 || !PyList_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "exact_row(starts, codes, end, edges: list)");
        return NULL;
    }
    double end = PyFloat_AsDouble(args[2]);
    if (PyErr_Occurred()) return NULL;
    PyObject *edge_list = args[3];
    Py_ssize_t width = PyList_GET_SIZE(edge_list) - 1;
    if (width < 0) width = 0;
    double *edges = PyMem_Malloc(sizeof(double) * (width + 1));
    if (edges == NULL) return PyErr_NoMemory();
    for (Py_ssize_t c = 0; c <= width && c < PyList_GET_SIZE(edge_list); c++) {
        edges[c] = PyFloat_AsDouble(PyList_GET_ITEM(edge_list, c));
        if (edges[c] == -1.0 && PyErr_Occurred()) { PyMem_Free(edges); return NULL; }
    }
    Py_buffer st, codes;
    Py_ssize_t n = span_buffers(args[0], args[1], &st, &codes);
    if (n < 0) { PyMem_Free(edges); return NULL; }
    PyObject *row = PyByteArray_FromStringAndSize(NULL, width);
    if (row != NULL) {
        const double *t = (const double *)st.buf;
        const unsigned char *code = (const unsigned char *)codes.buf;
        unsigned char *out = (unsigned char *)PyByteArray_AS_STRING(row);
        memset(out, 0, width);
        int rising = 1;
        for (Py_ssize_t c = 0; c < width; c++) rising &= edges[c] <= edges[c + 1];
        Py_ssize_t from = 0;  /* rising edges: each cell's search starts where the last one's ended */
        for (Py_ssize_t c = 0; c < width; c++) {
            double a = edges[c], b = edges[c + 1];
            Py_ssize_t hi = bisect_left_d(t, from, n, b);
            if (rising) from = hi;
            if (hi == 0) continue;
            Py_ssize_t i = bisect_right_d(t, 0, n, a) - 1;
            Py_ssize_t lo = (i < 0 || t[i] != a) ? i : bisect_left_d(t, 0, i, a);
            if (hi == n) {
                double last = t[n - 1];
                if (!(end > a || (end == last && last >= a))) hi--;  /* the lane ended before a */
            }
            if (lo < 0) lo = 0;
            unsigned char best = 0;
            for (Py_ssize_t k = lo; k < hi; k++)
                if (code[k] > best) best = code[k];
            out[c] = best;
        }
    }
    PyBuffer_Release(&st);
    PyBuffer_Release(&codes);
    PyMem_Free(edges);
    return row;
}

/* summary_fill(row, j0, inv, starts, therm, lo, closed): spans [lo, closed) of a lane into the finest level of the
 * timeline's summary (viz.app.lanes._Summary.extend): span i covers buckets floor(starts[i] * inv) .. ceil(starts[i +
 * 1] * inv) - 1, bucket j being row[j - j0]; its thermometer code therm[i - lo] is ORed into the first bucket and
 * fills the others (nothing else is there yet). The row must already reach the last span's first bucket. */
static PyObject *py_summary_fill(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 7 || !PyByteArray_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "summary_fill(row: bytearray, j0, inv, starts, therm, lo, closed)");
        return NULL;
    }
    long long j0 = PyLong_AsLongLong(args[1]);
    double inv = PyFloat_AsDouble(args[2]);
    Py_ssize_t lo = PyLong_AsSsize_t(args[5]), closed = PyLong_AsSsize_t(args[6]);
    if (PyErr_Occurred()) return NULL;
    Py_buffer st, therm;
    Py_ssize_t n = starts_buffer(args[3], &st);
    if (n < 0) return NULL;
    if (PyObject_GetBuffer(args[4], &therm, PyBUF_SIMPLE) < 0) { PyBuffer_Release(&st); return NULL; }
    PyObject *result = NULL;
    if (lo < 0 || closed >= n || closed < lo || therm.len < closed - lo) {
        PyErr_SetString(PyExc_ValueError, "starts must hold spans [lo, closed], therm a code for each but the last");
        goto done;
    }
    const double *t = (const double *)st.buf;
    const unsigned char *code = (const unsigned char *)therm.buf;
    unsigned char *row = (unsigned char *)PyByteArray_AS_STRING(args[0]);
    long long size = PyByteArray_GET_SIZE(args[0]);
    for (Py_ssize_t i = lo; i < closed; i++) {
        long long ja = (long long)floor(t[i] * inv) - j0, jb = (long long)ceil(t[i + 1] * inv) - j0 - 1;
        if (ja < 0 || ja >= size || jb >= size) {
            PyErr_SetString(PyExc_IndexError, "a span's buckets lie outside the row");
            goto done;
        }
        unsigned char v = code[i - lo];
        row[ja] |= v;
        if (jb > ja) memset(row + ja + 1, v, (size_t)(jb - ja));
    }
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&st);
    PyBuffer_Release(&therm);
    return result;
}

/* ids_present(column, marks) -> set: the string ids in `column` (a lane's reasons or files, an array('i')) that
 * `marks` (bytes: a nonzero byte at each wanted id) marks. Which of a few wanted reasons a lane has, for the
 * findings (viz.views.diagnostics), without an int object per span. */
static PyObject *py_ids_present(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "ids_present(column, marks)");
        return NULL;
    }
    Py_buffer col, marks;
    if (PyObject_GetBuffer(args[0], &col, PyBUF_FORMAT) < 0) return NULL;
    if (col.itemsize != sizeof(int) || col.format == NULL || strcmp(col.format, "i") != 0) {
        PyBuffer_Release(&col);
        PyErr_SetString(PyExc_TypeError, "column must be an array('i')");
        return NULL;
    }
    if (PyObject_GetBuffer(args[1], &marks, PyBUF_SIMPLE) < 0) { PyBuffer_Release(&col); return NULL; }
    const int *ids = (const int *)col.buf;
    const unsigned char *m = (const unsigned char *)marks.buf;
    Py_ssize_t n = col.len / (Py_ssize_t)sizeof(int), nm = marks.len;
    PyObject *found = PySet_New(NULL);
    int last = -1;  /* the id added last: a lane's spans repeat their reasons in runs */
    for (Py_ssize_t i = 0; found != NULL && i < n; i++) {
        int id = ids[i];
        if (id < 0 || id >= nm || !m[id] || id == last) continue;
        PyObject *v = PyLong_FromLong(id);
        if (v == NULL || PySet_Add(found, v) < 0) Py_CLEAR(found);
        Py_XDECREF(v);
        last = id;
    }
    PyBuffer_Release(&col);
    PyBuffer_Release(&marks);
    return found;
}

static PyMethodDef methods[] = {
    {"summary_fill", (PyCFunction)(void (*)(void))py_summary_fill, METH_FASTCALL,
     "summary_fill(row, j0, inv, starts, therm, lo, closed): spans [lo, closed) into a summary row, as\n"
     "viz.app.lanes._Summary.extend"},
    {"exact_row", (PyCFunction)(void (*)(void))py_exact_row, METH_FASTCALL,
     "exact_row(starts, codes, end, edges) -> bytearray: the highest display code of the spans overlapping each cell\n"
     "[edges[c], edges[c + 1]), as viz.views.cells.exact_cell"},
    {"scan_block", (PyCFunction)(void (*)(void))py_scan_block, METH_FASTCALL,
     "scan_block(block, pos, loads, out, state_names) -> (pos, lines, end) of the first line that is not a plain\n"
     "state record (see the comment above it)"},
    {"prefix_extend", (PyCFunction)(void (*)(void))py_prefix_extend, METH_FASTCALL,
     "prefix_extend(starts, states, flags, sums, lo, hi, stride): extend each running total in sums (one per state\n"
     "code, then the loop-blocking one) over spans [lo, hi), appending its value after every `stride` spans."},
    {"long_spans", (PyCFunction)(void (*)(void))py_long_spans, METH_FASTCALL,
     "long_spans(starts, states, end, code, limit) -> indices of the spans in state `code` lasting >= limit s"},
    {"longest_span", (PyCFunction)(void (*)(void))py_longest_span, METH_FASTCALL,
     "longest_span(starts, states, end, skip) -> index of the first longest span not in state `skip`, or -1"},
    {"ids_present", (PyCFunction)(void (*)(void))py_ids_present, METH_FASTCALL,
     "ids_present(column, marks) -> set of the ids in an array('i') column that marks (bytes-like) has nonzero"},
    {"prefix_at", (PyCFunction)(void (*)(void))py_prefix_at, METH_FASTCALL,
     "prefix_at(starts, states, flags, sums, j, lo, hi) -> [each running total's j-th value plus spans [lo, hi)]"},
    {NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fold", NULL, -1, methods};

#define INTERN(var, text) if (!(var = PyUnicode_InternFromString(text))) return NULL

PyMODINIT_FUNC PyInit__fold(void) {
    INTERN(str_state, "state"); INTERN(str_k, "k"); INTERN(str_t, "t"); INTERN(str_task, "task");
    INTERN(str_reason, "reason"); INTERN(str_file, "file"); INTERN(str_line, "line");
    INTERN(str_blocks_loop, "blocks_loop"); INTERN(str_lane_of, "_lane_of"); INTERN(str_lanes, "lanes");
    INTERN(str_string_id, "_string_id"); INTERN(str_steps, "_steps"); INTERN(str_steps_sorted, "_steps_sorted");
    INTERN(str_end_time, "end_time"); INTERN(str_changes, "changes"); INTERN(str_new_lane, "_lane");
    INTERN(str_intern, "_intern"); INTERN(str_starts, "starts");
    INTERN(str_states, "states"); INTERN(str_flags, "flags"); INTERN(str_reasons, "reasons");
    INTERN(str_files, "files"); INTERN(str_lines, "lines");
    INTERN(str_frombytes, "frombytes"); INTERN(str_typecode, "typecode");
    if (PyType_Ready(&SinkType) < 0 || PyType_Ready(&FolderType) < 0 || load_state_record() < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&FolderType);
    if (PyModule_AddObject(m, "Folder", (PyObject *)&FolderType) < 0) {
        Py_DECREF(&FolderType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

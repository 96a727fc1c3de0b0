/* _binary: the binary trace file's hot loops (viz/trace/binary.py), in C.
 *
 * - encode(records, ids, codes) -> (columns, n, others, new): a batch of records as the columns of one block,
 *   exactly as viz.trace.binary.encode_py does (the same bytes, the same string ids, the same records left to JSON).
 * - check(payload, offset, n, nstrings) -> None or (index, message): the first state record of a block's columns
 *   that the model cannot take, exactly as viz.trace.binary.check_py finds it.
 *
 * The session writes a block per batch of a live run, so a million records are a million trips through `encode`:
 * in Python that is about a microsecond each, here a few tens of nanoseconds. The module is optional (the Python
 * code does the same, slower); tests check that both give the same bytes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "record.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#define I32 2147483648LL

/* The strings of a batch repeat (the same few reasons and files, often the very same objects): a direct-mapped
 * cache from a str object to its id, kept only while encode() runs (it holds no references: every key is alive in
 * `ids` or in the batch meanwhile). */
#define ID_CACHE 256
typedef struct { PyObject *key; uint32_t id; } IdSlot;

/* string id of s (None: 0), giving a new string the next id (len(ids) + 1) and listing it in `new`. */
static int string_id(PyObject *ids, PyObject *new, PyObject *s, IdSlot *cache, uint32_t *out) {
    if (s == Py_None) {
        *out = 0;
        return 0;
    }
    IdSlot *slot = &cache[((uintptr_t)s >> 4) & (ID_CACHE - 1)];
    if (slot->key == s) {
        *out = slot->id;
        return 0;
    }
    PyObject *i = PyDict_GetItemWithError(ids, s);
    if (i != NULL) {
        unsigned long v = PyLong_AsUnsignedLong(i);
        if (v == (unsigned long)-1 && PyErr_Occurred()) return -1;
        *out = (uint32_t)v;
    } else {
        if (PyErr_Occurred()) return -1;
        Py_ssize_t id = PyDict_GET_SIZE(ids) + 1;
        if (id >= 4294967296LL) {
            PyErr_SetString(PyExc_OverflowError, "more strings than a binary trace holds");
            return -1;
        }
        PyObject *v = PyLong_FromSsize_t(id);
        if (v == NULL) return -1;
        int err = PyDict_SetItem(ids, s, v);
        Py_DECREF(v);
        if (err < 0 || PyList_Append(new, s) < 0) return -1;
        *out = (uint32_t)id;
    }
    slot->key = s;
    slot->id = *out;
    return 0;
}

/* An int in [lo, I32) as a C int: 1 with *out set, 0 not in range, -1 error. */
static int int32_in(PyObject *v, long long lo, int32_t *out) {
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (x == -1 && PyErr_Occurred()) return -1;
    if (overflow || x < lo || x >= I32) return 0;
    *out = (int32_t)x;
    return 1;
}

/* Does the state record fit the columns (as encode_py's test)? 1 with its state code, task and line (-1: none)
 * set, 0 not, -1 error. `states` caches the state str objects seen with their codes. */
static int fits(PyObject *rec, PyObject *codes, IdSlot *states, int *code, int32_t *task, int32_t *lineno) {
    PyObject *t = PyTuple_GET_ITEM(rec, 1), *state = PyTuple_GET_ITEM(rec, 3);
    PyObject *reason = PyTuple_GET_ITEM(rec, 4), *file = PyTuple_GET_ITEM(rec, 5), *line = PyTuple_GET_ITEM(rec, 6);
    PyObject *blocks = PyTuple_GET_ITEM(rec, 7);
    if (!PyFloat_CheckExact(t) || !PyLong_CheckExact(PyTuple_GET_ITEM(rec, 2)) || !PyUnicode_CheckExact(state))
        return 0;
    int r = int32_in(PyTuple_GET_ITEM(rec, 2), -I32, task);
    if (r <= 0) return r;
    IdSlot *slot = &states[((uintptr_t)state >> 4) & 7];
    if (slot->key == state) {
        *code = (int)slot->id;
    } else {
        PyObject *c = PyDict_GetItemWithError(codes, state);
        if (c == NULL) return PyErr_Occurred() ? -1 : 0;
        long cv = PyLong_AsLong(c);
        if (cv == -1 && PyErr_Occurred()) return -1;
        if (cv < 0 || cv > 255) return 0;
        *code = (int)cv;
        slot->key = state;  /* (alive: `codes` holds an equal key, the batch holds this one) */
        slot->id = (uint32_t)cv;
    }
    if (reason != Py_None && !PyUnicode_CheckExact(reason)) return 0;
    if (file != Py_None && !PyUnicode_CheckExact(file)) return 0;
    *lineno = -1;
    if (line != Py_None) {
        if (!PyLong_CheckExact(line)) return 0;
        r = int32_in(line, 0, lineno);
        if (r <= 0) return r;
    }
    if (blocks != Py_True && blocks != Py_False) return 0;
    return 1;
}

static PyObject *py_encode(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3 || !PyList_CheckExact(args[0]) || !PyDict_CheckExact(args[1]) || !PyDict_CheckExact(args[2])) {
        PyErr_SetString(PyExc_TypeError, "encode(records: list, ids: dict, codes: dict)");
        return NULL;
    }
    PyObject *records = args[0], *ids = args[1], *codes = args[2];
    Py_ssize_t size = PyList_GET_SIZE(records), n = 0;
    PyObject *others = PyList_New(0), *new = PyList_New(0), *result = NULL;
    /* one allocation: the columns at their final offsets for `size` records, compacted to n at the end */
    char *buf = PyMem_Malloc(size ? size * 26 : 1);
    if (others == NULL || new == NULL || buf == NULL) {
        if (buf == NULL) PyErr_NoMemory();
        goto done;
    }
    double *ts = (double *)buf;
    int32_t *tasks = (int32_t *)(buf + size * 8);
    uint32_t *reasons = (uint32_t *)(buf + size * 12), *files = (uint32_t *)(buf + size * 16);
    int32_t *lines = (int32_t *)(buf + size * 20);
    unsigned char *states = (unsigned char *)(buf + size * 24), *flags = (unsigned char *)(buf + size * 25);
    IdSlot cache[ID_CACHE] = {{0}}, state_cache[8] = {{0}};
    for (Py_ssize_t i = 0; i < size; i++) {
        PyObject *rec = PyList_GET_ITEM(records, i);
        int code = 0, ok = 0;
        int32_t task = 0, line = -1;
        if (is_state_record(rec)) {
            ok = fits(rec, codes, state_cache, &code, &task, &line);
            if (ok < 0) goto done;
        }
        if (!ok) {
            PyObject *pair = Py_BuildValue("(nO)", n, rec);
            if (pair == NULL) goto done;
            int err = PyList_Append(others, pair);
            Py_DECREF(pair);
            if (err < 0) goto done;
            continue;
        }
        uint32_t r, f;
        if (string_id(ids, new, PyTuple_GET_ITEM(rec, 4), cache, &r) < 0 ||
            string_id(ids, new, PyTuple_GET_ITEM(rec, 5), cache, &f) < 0)
            goto done;
        ts[n] = PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(rec, 1));
        tasks[n] = task;
        reasons[n] = r;
        files[n] = f;
        lines[n] = line;
        states[n] = (unsigned char)code;
        flags[n] = PyTuple_GET_ITEM(rec, 7) == Py_True ? 1 : 0;
        n++;
    }
    PyObject *cols = PyBytes_FromStringAndSize(NULL, n * 26);
    if (cols == NULL) goto done;
    char *out = PyBytes_AS_STRING(cols);
    memcpy(out, ts, n * 8);
    memcpy(out + n * 8, tasks, n * 4);
    memcpy(out + n * 12, reasons, n * 4);
    memcpy(out + n * 16, files, n * 4);
    memcpy(out + n * 20, lines, n * 4);
    memcpy(out + n * 24, states, n);
    memcpy(out + n * 25, flags, n);
    result = Py_BuildValue("(NnOO)", cols, n, others, new);
done:
    PyMem_Free(buf);
    Py_XDECREF(others);
    Py_XDECREF(new);
    return result;
}

static PyObject *bad(Py_ssize_t i, PyObject *message) {
    if (message == NULL) return NULL;
    return Py_BuildValue("(nN)", i, message);
}

static PyObject *py_check(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer view;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "check(payload, offset, n, nstrings)");
        return NULL;
    }
    Py_ssize_t offset = PyLong_AsSsize_t(args[1]), n = PyLong_AsSsize_t(args[2]);
    long long nstrings = PyLong_AsLongLong(args[3]);
    if (PyErr_Occurred()) return NULL;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) return NULL;
    PyObject *result = NULL;
    if (offset < 0 || n < 0 || offset + n * 26 > view.len) {
        PyErr_SetString(PyExc_ValueError, "check: the columns run past the payload");
        goto done;
    }
    const char *p = (const char *)view.buf + offset;
    for (Py_ssize_t i = 0; i < n; i++) {
        double t;
        int32_t line;
        uint32_t r, f;
        memcpy(&t, p + i * 8, 8);
        memcpy(&r, p + n * 12 + i * 4, 4);
        memcpy(&f, p + n * 16 + i * 4, 4);
        memcpy(&line, p + n * 20 + i * 4, 4);
        unsigned char c = (unsigned char)p[n * 24 + i], fl = (unsigned char)p[n * 25 + i];
        if (!isfinite(t)) {
            result = bad(i, PyUnicode_FromString("its time is not a finite number"));
            goto done;
        }
        if (c >= 4) {
            result = bad(i, PyUnicode_FromFormat("unknown state code %d", (int)c));
            goto done;
        }
        if (fl > 1) {
            result = bad(i, PyUnicode_FromFormat("unknown flags %d", (int)fl));
            goto done;
        }
        if ((long long)r >= nstrings || (long long)f >= nstrings) {
            result = bad(i, PyUnicode_FromFormat("string id %lu is not in the file's %lld strings",
                                                 (unsigned long)(r > f ? r : f), nstrings - 1));
            goto done;
        }
        if (line < -1) {
            result = bad(i, PyUnicode_FromFormat("line %d is out of range", (int)line));
            goto done;
        }
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"encode", (PyCFunction)(void (*)(void))py_encode, METH_FASTCALL,
     "encode(records, ids, codes) -> (columns, n, others, new): viz.trace.binary.encode_py in C"},
    {"check", (PyCFunction)(void (*)(void))py_check, METH_FASTCALL,
     "check(payload, offset, n, nstrings) -> None or (index, message): viz.trace.binary.check_py in C"},
    {NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_binary", NULL, -1, methods};

PyMODINIT_FUNC PyInit__binary(void) {
    const uint16_t one = 1;
    if (*(const unsigned char *)&one != 1) {  /* the file is little-endian: a big-endian build uses the Python */
        PyErr_SetString(PyExc_ImportError, "viz.trace._binary writes little-endian columns: not on this machine");
        return NULL;
    }
    if (load_state_record() < 0) return NULL;
    return PyModule_Create(&module);
}

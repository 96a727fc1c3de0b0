/* _lines: the JSON Lines trace writer's hot loop (viz/trace/format.py, encode_lines), in C.
 *
 * lines(records, other) -> bytes: each record as its line, newline included. A state record
 * (viz.trace.record.StateRecord, see record.h) whose fields have their usual exact types is written here, byte for
 * byte as the json module writes StateRecord.to_json() (compact, non-ASCII text kept: json.dumps(...,
 * ensure_ascii=False, separators=(",", ":")), with the time as float.__repr__ writes it); any other record, or one
 * this does not write exactly so (a time that is not finite, an integer beyond 64 bits, text UTF-8 cannot hold), is
 * handed to other(record), which returns its line as bytes.
 *
 * The json module spends about 3 µs on a state record and orjson, called once per record, about as much (most of it
 * the call); this, about 0.15 µs. The module is optional: without it format.py does the same in Python, and tests
 * check the bytes are the same.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "record.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    char *p;
    Py_ssize_t n, cap;
} Buf;

static int buf_room(Buf *b, Py_ssize_t more) {
    if (b->n + more <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->n + more) cap *= 2;
    char *p = PyMem_Realloc(b->p, cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static int put(Buf *b, const char *s, Py_ssize_t n) {
    if (buf_room(b, n) < 0) return -1;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return 0;
}

#define PUT_LIT(b, s) put(b, s, (Py_ssize_t)sizeof(s) - 1)

/* A JSON string as json's c_encode_basestring writes it (ensure_ascii=False): 0 written, 1 not writable here
 * (text UTF-8 cannot hold: the caller hands the record on), -1 error. */
static int put_str(Buf *b, PyObject *s) {
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n);
    if (u == NULL) {
        if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
            PyErr_Clear();
            return 1;
        }
        return -1;
    }
    if (buf_room(b, n * 6 + 2) < 0) return -1;
    char *o = b->p + b->n;
    *o++ = '"';
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)u[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            o += sprintf(o, "u%04x", c);
        }
    }
    *o++ = '"';
    b->n = o - b->p;
    return 0;
}

/* An exact int as int.__repr__ writes it: 0, 1 not here (beyond 64 bits), -1 error. */
static int put_int(Buf *b, PyObject *v) {
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (x == -1 && PyErr_Occurred()) return -1;
    if (overflow) return 1;
    char tmp[32];
    return put(b, tmp, snprintf(tmp, sizeof tmp, "%lld", x));
}

/* One state record's line: 0 written, 1 not written here (the buffer is as it was), -1 error. */
static int state_line(Buf *b, PyObject *rec) {
    PyObject *t = PyTuple_GET_ITEM(rec, 1), *task = PyTuple_GET_ITEM(rec, 2), *state = PyTuple_GET_ITEM(rec, 3);
    PyObject *reason = PyTuple_GET_ITEM(rec, 4), *file = PyTuple_GET_ITEM(rec, 5), *line = PyTuple_GET_ITEM(rec, 6);
    PyObject *blocks = PyTuple_GET_ITEM(rec, 7);
    if (!PyFloat_CheckExact(t) || !isfinite(PyFloat_AS_DOUBLE(t)) || !PyLong_CheckExact(task) ||
        !PyUnicode_CheckExact(state) || (reason != Py_None && !PyUnicode_CheckExact(reason)) ||
        (file != Py_None && !PyUnicode_CheckExact(file)) || (line != Py_None && !PyLong_CheckExact(line)) ||
        (blocks != Py_True && blocks != Py_False))
        return 1;
    Py_ssize_t start = b->n;
    int r;
    char *repr = PyOS_double_to_string(PyFloat_AS_DOUBLE(t), 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (repr == NULL) return -1;
    r = PUT_LIT(b, "{\"k\":\"state\",\"t\":") < 0 || put(b, repr, (Py_ssize_t)strlen(repr)) < 0 ? -1 : 0;
    PyMem_Free(repr);
    if (r == 0 && (r = PUT_LIT(b, ",\"task\":")) == 0 && (r = put_int(b, task)) == 0 &&
        (r = PUT_LIT(b, ",\"state\":")) == 0)
        r = put_str(b, state);
    if (r == 0 && reason != Py_None && (r = PUT_LIT(b, ",\"reason\":")) == 0) r = put_str(b, reason);
    if (r == 0 && file != Py_None && (r = PUT_LIT(b, ",\"file\":")) == 0) r = put_str(b, file);
    if (r == 0 && line != Py_None && (r = PUT_LIT(b, ",\"line\":")) == 0) r = put_int(b, line);
    if (r == 0 && blocks == Py_True) r = PUT_LIT(b, ",\"blocks_loop\":true");
    if (r == 0) r = PUT_LIT(b, "}\n");
    if (r == 1) b->n = start;
    return r;
}

static PyObject *py_lines(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyList_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "lines(records: list, other)");
        return NULL;
    }
    PyObject *records = args[0], *other = args[1];
    Buf b = {NULL, 0, 0};
    PyObject *result = NULL;
    Py_ssize_t size = PyList_GET_SIZE(records);
    if (buf_room(&b, size * 120 + 1) < 0) return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(records); i++) {
        PyObject *rec = PyList_GET_ITEM(records, i);
        int r = is_state_record(rec) ? state_line(&b, rec) : 1;
        if (r < 0) goto done;
        if (r == 0) continue;
        Py_INCREF(rec);
        PyObject *line = PyObject_CallOneArg(other, rec);
        Py_DECREF(rec);
        if (line == NULL) goto done;
        if (!PyBytes_Check(line)) {
            Py_DECREF(line);
            PyErr_SetString(PyExc_TypeError, "lines: other() must return bytes");
            goto done;
        }
        r = put(&b, PyBytes_AS_STRING(line), PyBytes_GET_SIZE(line));
        Py_DECREF(line);
        if (r < 0) goto done;
    }
    result = PyBytes_FromStringAndSize(b.p, b.n);
done:
    PyMem_Free(b.p);
    return result;
}

static PyMethodDef methods[] = {
    {"lines", (PyCFunction)(void (*)(void))py_lines, METH_FASTCALL,
     "lines(records, other) -> bytes: the records as JSON Lines (see the comment at the top of _lines.c)"},
    {NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_lines", NULL, -1, methods};

PyMODINIT_FUNC PyInit__lines(void) {
    if (load_state_record() < 0) return NULL;
    return PyModule_Create(&module);
}

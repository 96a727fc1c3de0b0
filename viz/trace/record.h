/* record.h: the state record (viz.trace.record.StateRecord) as the C modules make and recognise it.
 *
 * Included by viz/trace/_fold.c (the fold and the file scanner) and viz/ingest/_derive.c (the deriver), so the one
 * Python class is the only definition of the record's layout: `load_state_record()` imports it at module init and
 * refuses (ImportError: the caller falls back to Python) if its fields are not the ones these modules index by
 * position. `new_state_record(items)` makes an instance with the tuple's own layout (a named tuple adds none).
 */
#ifndef VIZ_RECORD_H
#define VIZ_RECORD_H
#include <Python.h>

#define STATE_RECORD_FIELDS 8 /* k, t, task, state, reason, file, line, blocks_loop */
static PyTypeObject *StateRecordType;

static int load_state_record(void) {
    static const char *expected[STATE_RECORD_FIELDS] = {"k", "t", "task", "state", "reason", "file", "line",
                                                        "blocks_loop"};
    PyObject *mod = PyImport_ImportModule("viz.trace.record");
    if (mod == NULL) return -1;
    PyObject *cls = PyObject_GetAttrString(mod, "StateRecord");
    Py_DECREF(mod);
    if (cls == NULL) return -1;
    PyObject *fields = PyObject_GetAttrString(cls, "_fields");
    int ok = PyType_Check(cls) && PyType_IsSubtype((PyTypeObject *)cls, &PyTuple_Type) && fields != NULL
             && PyTuple_Check(fields) && PyTuple_GET_SIZE(fields) == STATE_RECORD_FIELDS;
    for (int i = 0; ok && i < STATE_RECORD_FIELDS; i++) {
        PyObject *f = PyTuple_GET_ITEM(fields, i);
        ok = PyUnicode_Check(f) && PyUnicode_CompareWithASCIIString(f, expected[i]) == 0;
    }
    Py_XDECREF(fields);
    PyErr_Clear();
    if (!ok) {
        Py_DECREF(cls);
        PyErr_SetString(PyExc_ImportError, "viz.trace.record.StateRecord's fields are not the ones this module "
                                           "was built for: rebuild it");
        return -1;
    }
    StateRecordType = (PyTypeObject *)cls; /* kept for the life of the process */
    return 0;
}

/* A new StateRecord of the eight items (each gets a new reference). */
static inline PyObject *new_state_record(PyObject *const items[STATE_RECORD_FIELDS]) {
    PyObject *rec = StateRecordType->tp_alloc(StateRecordType, STATE_RECORD_FIELDS);
    if (rec == NULL) return NULL;
    for (int i = 0; i < STATE_RECORD_FIELDS; i++) {
        Py_INCREF(items[i]);
        PyTuple_SET_ITEM(rec, i, items[i]);
    }
    return rec;
}

static inline int is_state_record(PyObject *o) {
    return Py_IS_TYPE(o, StateRecordType);
}
#endif

/* _paint: the timeline's per-lane cell bounds, in C (viz.app.lanes._Grid.bounds does the same in Python).
 *
 * A lane's summary row holds one thermometer code per time bucket (a bigger code OR-s in every smaller one, so OR
 * is max). For a view laid over those buckets, cell c holds buckets [lo_c, hi_c) wholly and touches the buckets
 * at its two edges:
 *     lower_c = OR of r[lo_c:hi_c]                 (<= the exact cell)
 *     upper_c = lower_c | r[at_c] | r[at_c+1]      (>= the exact cell)
 * both turned back into state codes through `from_therm`. A frame asks this of every lane in view, so it is the
 * inner loop of drawing a zoomed-out timeline. Optional: without a compiler the Python code draws the same.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static int get_ints(PyObject *o, Py_buffer *b, const char *what) {
    if (PyObject_GetBuffer(o, b, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) return -1;
    if (b->itemsize != sizeof(int) || b->format == NULL || strcmp(b->format, "i") != 0) {
        PyErr_Format(PyExc_TypeError, "%s must be an array('i')", what);
        PyBuffer_Release(b);
        return -1;
    }
    return 0;
}

static PyObject *py_bounds(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "bounds(r, lo, hi, at, from_therm) -> (upper, lower)");
        return NULL;
    }
    Py_buffer r = {0}, lo = {0}, hi = {0}, at = {0}, tr = {0};
    PyObject *upper = NULL, *lower = NULL, *result = NULL;
    if (PyObject_GetBuffer(args[0], &r, PyBUF_SIMPLE) < 0) return NULL;
    if (get_ints(args[1], &lo, "lo") < 0 || get_ints(args[2], &hi, "hi") < 0 || get_ints(args[3], &at, "at") < 0 ||
        PyObject_GetBuffer(args[4], &tr, PyBUF_SIMPLE) < 0)
        goto done;
    Py_ssize_t n = r.len, w = lo.len / (Py_ssize_t)sizeof(int);
    if (hi.len != lo.len || at.len != (w + 1) * (Py_ssize_t)sizeof(int) || tr.len != 256) {
        PyErr_SetString(PyExc_ValueError, "bounds: lo and hi need one entry per cell, at one more, from_therm 256");
        goto done;
    }
    const unsigned char *row = r.buf, *t = tr.buf;
    const int *l = lo.buf, *h = hi.buf, *a = at.buf;
    if (!(upper = PyBytes_FromStringAndSize(NULL, w)) || !(lower = PyBytes_FromStringAndSize(NULL, w))) goto done;
    unsigned char *up = (unsigned char *)PyBytes_AS_STRING(upper), *down = (unsigned char *)PyBytes_AS_STRING(lower);
    for (Py_ssize_t c = 0; c < w; c++) {
        Py_ssize_t x0 = l[c] < 0 ? 0 : l[c], x1 = h[c] > n ? n : h[c];
        unsigned char in = 0;
        for (Py_ssize_t x = x0; x < x1; x++) in |= row[x];
        unsigned char touch = in;
        if (a[c] >= 0 && a[c] < n) touch |= row[a[c]];
        if (a[c + 1] >= 0 && a[c + 1] < n) touch |= row[a[c + 1]];
        down[c] = t[in];
        up[c] = t[touch];
    }
    result = PyTuple_Pack(2, upper, lower);
done:
    Py_XDECREF(upper);
    Py_XDECREF(lower);
    if (r.obj) PyBuffer_Release(&r);
    if (lo.obj) PyBuffer_Release(&lo);
    if (hi.obj) PyBuffer_Release(&hi);
    if (at.obj) PyBuffer_Release(&at);
    if (tr.obj) PyBuffer_Release(&tr);
    return result;
}

static PyMethodDef methods[] = {
    {"bounds", (PyCFunction)(void (*)(void))py_bounds, METH_FASTCALL,
     "bounds(r, lo, hi, at, from_therm) -> (upper, lower): each cell's bounds from a lane's bucket row r."},
    {NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_paint", NULL, -1, methods};

PyMODINIT_FUNC PyInit__paint(void) { return PyModule_Create(&module); }

/*
 * skelact.data.formats._cntu: a one-pass C reader for NTU RGB+D ``.skeleton`` files.
 *
 * The optional compiled fast path of :mod:`skelact.data.formats.ntu`. It walks a file that has
 * the *regular* form (tokens separated by exactly one space, lines ended by LF or CRLF, no blank
 * line, whitespace only at the end of the file), checks every count and every line's number of
 * values, and converts the requested joint columns and the body ids.
 *
 * It never reports errors itself: for anything it does not accept (an irregular file, a bad
 * count, a token that is not a plain number, a non-finite value) it returns ``None`` and the
 * vectorised NumPy reader reads the file instead, which either reads it or raises the located
 * ``SkeletonFormatError``. So the compiled path changes speed, never results: the values are
 * bit-identical to Python's ``float()`` of each token (a Clinger fast path where it is exact,
 * else CPython's own correctly rounded ``PyOS_string_to_double``).
 *
 * parse(buf, cols, max_slot) -> None | (nbodies, ids, values)
 *   buf:      the file content (any bytes-like object).
 *   cols:     bytes, the joint columns (0..11) to convert, in output order (repeats allowed).
 *   max_slot: body records at list position >= max_slot in their frame are checked but not
 *             converted (a selection that cannot keep them).
 *   nbodies:  bytearray of int64 (T,), the bodies listed in each frame.
 *   ids:      bytearray of int64 (B,), the bodyID of each converted record, in file order.
 *   values:   bytearray of float64 (B, 25, len(cols)).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

#define NUM_JOINTS 25
#define BODY_VALUES 10
#define JOINT_VALUES 12
#define MAX_TOKEN 64 /* longer tokens: not a plain number; leave the file to the NumPy reader */

typedef struct {
    const unsigned char *p;   /* next unread byte */
    const unsigned char *end; /* end of the content (trailing whitespace removed) */
} Cursor;

/* One token: [start, start + len). Returns 0 on success, -1 if the file is not regular.
 * *eol is set to 1 if the token ends its line (or the file). */
static inline int next_token(Cursor *c, const unsigned char **start, Py_ssize_t *len, int *eol) {
    const unsigned char *p = c->p, *end = c->end;
    if (p >= end || *p <= ' ') return -1; /* missing token, or leading / doubled whitespace */
    const unsigned char *s = p;
    while (p < end && *p > ' ') p++;
    *start = s;
    *len = p - s;
    if (p == end) {
        *eol = 1;
    } else if (*p == ' ') {
        *eol = 0;
        p++;
    } else if (*p == '\n') {
        *eol = 1;
        p++;
    } else if (*p == '\r' && p + 1 < end && p[1] == '\n') {
        *eol = 1;
        p += 2;
    } else {
        return -1; /* tab, lone CR, control character */
    }
    if (p < end && *p <= ' ') return -1; /* doubled separator or blank line */
    c->p = p;
    return 0;
}

/* A line of exactly n tokens; their spans go to starts / lens (if not NULL). */
static inline int read_line(Cursor *c, int n, const unsigned char **starts, Py_ssize_t *lens) {
    const unsigned char *s;
    Py_ssize_t len;
    int eol;
    for (int k = 0; k < n; k++) {
        if (next_token(c, &s, &len, &eol) < 0) return -1;
        if (eol != (k == n - 1)) return -1;
        if (starts) {
            starts[k] = s;
            lens[k] = len;
        }
    }
    return 0;
}

/* A non-negative decimal integer of at most 18 digits, no sign. */
static inline int parse_count(const unsigned char *s, Py_ssize_t len, int64_t *out) {
    if (len < 1 || len > 18) return -1;
    int64_t v = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        unsigned d = (unsigned)s[i] - '0';
        if (d > 9) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* An optionally negative decimal integer of at most 18 digits (Kinect bodyIDs fit). */
static inline int parse_id(const unsigned char *s, Py_ssize_t len, int64_t *out) {
    int neg = len > 0 && s[0] == '-';
    int64_t v;
    if (parse_count(s + neg, len - neg, &v) < 0) return -1;
    *out = neg ? -v : v;
    return 0;
}

static const double POW10[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* A finite number of the form [+-]digits[.digits][(e|E)[+-]digits] (digits on at least one side
 * of the dot), bit-identical to Python's float(): exact operands and one correctly rounded
 * operation where possible (mantissa < 2**53, |power| <= 22), else PyOS_string_to_double. */
static int parse_double(const unsigned char *s, Py_ssize_t len, double *out, PyThreadState **ts) {
    const unsigned char *p = s, *end = s + len;
    int neg = 0;
    if (p < end && (*p == '-' || *p == '+')) neg = *p++ == '-';
    uint64_t mant = 0;
    int digits = 0, significant = 0, frac = 0;
    while (p < end && (unsigned)(*p - '0') <= 9) {
        if (significant < 19) {
            mant = mant * 10 + (*p - '0');
            if (mant) significant++;
        } else {
            significant = 99; /* too many digits for the fast path */
        }
        digits++;
        p++;
    }
    if (p < end && *p == '.') {
        p++;
        while (p < end && (unsigned)(*p - '0') <= 9) {
            if (significant < 19) {
                mant = mant * 10 + (*p - '0');
                if (mant) significant++;
                frac++;
            } else {
                significant = 99;
            }
            digits++;
            p++;
        }
    }
    if (digits == 0) return -1;
    long exp10 = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0;
        if (p < end && (*p == '-' || *p == '+')) eneg = *p++ == '-';
        if (p == end) return -1;
        while (p < end && (unsigned)(*p - '0') <= 9) {
            if (exp10 < 100000) exp10 = exp10 * 10 + (*p - '0');
            p++;
        }
        if (eneg) exp10 = -exp10;
    }
    if (p != end) return -1; /* anything else: left to the NumPy reader and float() */
    long power = exp10 - frac;
    double v;
    if (significant <= 19 && mant <= (UINT64_C(1) << 53) && power >= -22 && power <= 22) {
        v = (double)mant; /* exact */
        v = power < 0 ? v / POW10[-power] : v * POW10[power];
    } else {
        /* Rare: many digits or a large power. CPython's own correctly rounded conversion. */
        char text[MAX_TOKEN + 1];
        if (len > MAX_TOKEN) return -1;
        memcpy(text, s, (size_t)len);
        text[len] = '\0';
        char *stop = NULL;
        PyEval_RestoreThread(*ts); /* the GIL, for CPython's conversion and its error state */
        v = PyOS_string_to_double(text, &stop, NULL);
        int failed = v == -1.0 && PyErr_Occurred();
        if (failed) PyErr_Clear();
        *ts = PyEval_SaveThread();
        if (failed || stop != text + len) return -1;
        *out = v;
        return isfinite(v) ? 0 : -1;
    }
    *out = neg ? -v : v;
    return 0;
}

/* A growable byte buffer. */
typedef struct {
    char *data;
    size_t size, cap;
} Buf;

static int buf_reserve(Buf *b, size_t extra) {
    if (b->size + extra <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->size + extra) cap *= 2;
    char *d = PyMem_RawRealloc(b->data, cap);
    if (!d) return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

static PyObject *as_bytearray(Buf *b) {
    return PyByteArray_FromStringAndSize(b->size ? b->data : "", (Py_ssize_t)b->size);
}

static PyObject *cntu_parse(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer view;
    const char *cols;
    Py_ssize_t ncols;
    Py_ssize_t max_slot;
    if (!PyArg_ParseTuple(args, "y*y#n", &view, &cols, &ncols, &max_slot)) return NULL;
    for (Py_ssize_t k = 0; k < ncols; k++) {
        if ((unsigned char)cols[k] >= JOINT_VALUES) {
            PyBuffer_Release(&view);
            PyErr_SetString(PyExc_ValueError, "column index out of range");
            return NULL;
        }
    }
    const unsigned char *data = view.buf;
    Py_ssize_t size = view.len;
    while (size > 0 && data[size - 1] <= ' ') size--; /* trailing whitespace is allowed */

    Buf nbodies = {0}, ids = {0}, values = {0};
    int ok = 0;
    Cursor c = {data, data + size};
    const unsigned char *s, *starts[JOINT_VALUES];
    Py_ssize_t len, lens[JOINT_VALUES];
    int64_t num_frames, nb, id;
    const size_t record = (size_t)NUM_JOINTS * (size_t)ncols * sizeof(double);

    PyThreadState *ts = PyEval_SaveThread(); /* no Python objects touched until restored */
    if (read_line(&c, 1, &s, &len) < 0 || parse_count(s, len, &num_frames) < 0 || num_frames < 1) goto done;
    if ((size_t)num_frames > (size_t)size) goto done; /* more frames than bytes: corrupt */
    if (buf_reserve(&nbodies, (size_t)num_frames * sizeof(int64_t)) < 0) goto done;
    for (int64_t t = 0; t < num_frames; t++) {
        if (read_line(&c, 1, &s, &len) < 0 || parse_count(s, len, &nb) < 0) goto done;
        memcpy(nbodies.data + nbodies.size, &nb, sizeof nb);
        nbodies.size += sizeof nb;
        for (int64_t b = 0; b < nb; b++) {
            int convert = b < max_slot;
            if (read_line(&c, BODY_VALUES, starts, lens) < 0) goto done;
            if (convert) {
                if (parse_id(starts[0], lens[0], &id) < 0) goto done;
                if (buf_reserve(&ids, sizeof id) < 0 || buf_reserve(&values, record) < 0) goto done;
                memcpy(ids.data + ids.size, &id, sizeof id);
                ids.size += sizeof id;
            }
            if (read_line(&c, 1, &s, &len) < 0 || len != 2 || s[0] != '2' || s[1] != '5') goto done;
            double *out = (double *)(values.data + values.size);
            for (int j = 0; j < NUM_JOINTS; j++) {
                if (read_line(&c, JOINT_VALUES, starts, lens) < 0) goto done;
                if (convert) {
                    for (Py_ssize_t k = 0; k < ncols; k++) {
                        int col = (unsigned char)cols[k];
                        if (parse_double(starts[col], lens[col], out++, &ts) < 0) goto done;
                    }
                }
            }
            if (convert) values.size += record;
        }
    }
    ok = c.p == c.end; /* nothing after the last frame */
done:
    PyEval_RestoreThread(ts);

    PyBuffer_Release(&view);
    PyObject *result = NULL;
    if (ok) {
        PyObject *a = as_bytearray(&nbodies), *b = as_bytearray(&ids), *v = as_bytearray(&values);
        if (a && b && v) result = PyTuple_Pack(3, a, b, v);
        Py_XDECREF(a);
        Py_XDECREF(b);
        Py_XDECREF(v);
    } else if (!PyErr_Occurred()) {
        result = Py_NewRef(Py_None);
    }
    PyMem_RawFree(nbodies.data);
    PyMem_RawFree(ids.data);
    PyMem_RawFree(values.data);
    return result;
}

static PyMethodDef methods[] = {
    {"parse", cntu_parse, METH_VARARGS,
     "parse(buf, cols, max_slot) -> None | (nbodies, ids, values): read a regular NTU .skeleton "
     "file (see the module source); None leaves the file to the NumPy reader."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cntu", "Compiled fast path of the NTU RGB+D .skeleton reader.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__cntu(void) { return PyModule_Create(&module); }

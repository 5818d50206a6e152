/* qpd.lib._speedups: the plain request reader in C.
 *
 *   parse_plain(head, max_head, max_target, base, script_name)
 *       -> (method, target, minor, keep_alive, environ) | None
 *
 * It is qpd.server.protocol._parse_plain_request's reading of the common
 * request head (GET or HEAD, a plain origin-form target, HTTP/1.0 or 1.1,
 * plain header lines), without the RequestHead: None for any other head,
 * which then goes to the full parser. The Python function stays the
 * reference and the fallback where this module was not built (the install
 * builds it when a C compiler is there; setup.py marks it optional);
 * tests/test_speedups.py checks with hypothesis that both give the same
 * answer on every head. Every request a worker reads goes through it:
 * 3.3 -> 1.1 us for wrk's head, 6.5 -> 2.6 us for a browser's.
 * (format_head had a C twin too, dropped once the Python one was as fast.)
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* Keys and values every request's environ holds, made once. */
static PyObject *k_request_method, *k_server_protocol, *k_request_uri;
static PyObject *k_query_string, *k_script_name, *k_path_info;
static PyObject *k_http_connection, *k_http_cookie, *v_get, *v_head;
static PyObject *v_http_10, *v_http_11, *v_empty;

/* Header names seen, exactly as sent, and their environ keys (interned,
 * their hashes kept): a request's few names are found by length and
 * memcmp, with no new key string. Full after KEY_CACHE_SIZE names; the
 * rest are made each time. */
#define KEY_CACHE_SIZE 64
#define KEY_CACHE_NAME 64
static struct {
    Py_ssize_t length;
    char name[KEY_CACHE_NAME];
    PyObject *key;
} key_cache[KEY_CACHE_SIZE];
static int key_cache_used;

/* Is c a letter, a digit or one of others? */
static int
is_alnum_or(unsigned char c, const char *others)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr(others, c) != NULL;
}

/* Target characters of the plain reader: unreserved, sub-delims, ':', '@',
 * '/', '%' and '?'; and RFC 9110 token characters. */
#define TARGET_MARKS "-._~!$&'()*+,;=:@/%?"
#define TOKEN_MARKS "!#$%&'*+.^_`|~-"

static int
is_visible(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e;
}

static int
hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Does name (n bytes) equal the lower-case word, ignoring ASCII case? */
static int
name_is(const char *name, Py_ssize_t n, const char *word)
{
    Py_ssize_t i;
    if ((Py_ssize_t)strlen(word) != n)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c >= 'A' && c <= 'Z')
            c = c - 'A' + 'a';
        if (c != (unsigned char)word[i])
            return 0;
    }
    return 1;
}

/* The CGI key of a header name (token characters): HTTP_ and the name in
 * capitals with '-' as '_' (CONTENT_TYPE without HTTP_), interned; the
 * names seen, exactly as sent, are kept in key_cache. A new reference, or
 * NULL with an exception set. */
static PyObject *
header_key(const char *name, Py_ssize_t n)
{
    char small[5 + KEY_CACHE_NAME];
    char *key;
    Py_ssize_t i, k = 0;
    PyObject *key_obj;

    for (i = 0; i < key_cache_used; i++) {
        if (key_cache[i].length == n
                && memcmp(key_cache[i].name, name, n) == 0)
            return Py_NewRef(key_cache[i].key);
    }
    key = n <= KEY_CACHE_NAME ? small : PyMem_Malloc(5 + n);
    if (key == NULL)
        return PyErr_NoMemory();
    if (!name_is(name, n, "content-type")) {
        memcpy(key, "HTTP_", 5);
        k = 5;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c >= 'a' && c <= 'z')
            c = c - 'a' + 'A';
        else if (c == '-')
            c = '_';
        key[k++] = (char)c;
    }
    key_obj = PyUnicode_FromStringAndSize(key, k);
    if (key != small)
        PyMem_Free(key);
    if (key_obj == NULL)
        return NULL;
    PyUnicode_InternInPlace(&key_obj);
    if (key_cache_used < KEY_CACHE_SIZE && n <= KEY_CACHE_NAME) {
        key_cache[key_cache_used].length = n;
        memcpy(key_cache[key_cache_used].name, name, n);
        key_cache[key_cache_used].key = Py_NewRef(key_obj);
        key_cache_used++;
    }
    return key_obj;
}

/* Add a header line's value to environ under its CGI key, joining a
 * repeated one (', ', or '; ' for Cookie); a name with '_' is dropped.
 * 0, or -1 with an exception set. */
static int
add_header(PyObject *environ, const char *name, Py_ssize_t n,
           const char *value, Py_ssize_t vn)
{
    PyObject *key_obj, *value_obj, *old;
    int result;

    if (memchr(name, '_', n) != NULL)
        return 0;
    key_obj = header_key(name, n);
    if (key_obj == NULL)
        return -1;
    value_obj = PyUnicode_DecodeLatin1(value, vn, NULL);
    if (value_obj == NULL) {
        Py_DECREF(key_obj);
        return -1;
    }
    old = PyDict_GetItemWithError(environ, key_obj);
    if (old == NULL && PyErr_Occurred()) {
        Py_DECREF(key_obj);
        Py_DECREF(value_obj);
        return -1;
    }
    if (old != NULL) {
        const char *joiner = PyUnicode_Compare(key_obj, k_http_cookie) == 0
            ? "; " : ", ";
        PyObject *joined = PyUnicode_FromFormat("%U%s%U", old, joiner,
                                                value_obj);
        Py_DECREF(value_obj);
        if (joined == NULL) {
            Py_DECREF(key_obj);
            return -1;
        }
        value_obj = joined;
    }
    result = PyDict_SetItem(environ, key_obj, value_obj);
    Py_DECREF(key_obj);
    Py_DECREF(value_obj);
    return result;
}

/* environ[key] = value, the reference to value given up. */
static int
set_string(PyObject *environ, PyObject *key, PyObject *value)
{
    int result;
    if (value == NULL)
        return -1;
    result = PyDict_SetItem(environ, key, value);
    Py_DECREF(value);
    return result;
}

/* SCRIPT_NAME and PATH_INFO of the decoded path (a str). */
static int
set_path(PyObject *environ, PyObject *path, PyObject *script_name)
{
    Py_ssize_t length = PyUnicode_GetLength(script_name);
    Py_ssize_t path_length = PyUnicode_GetLength(path);
    int under = 0;

    if (length > 0 && path_length >= length
            && PyUnicode_Tailmatch(path, script_name, 0, length, -1) == 1) {
        if (path_length == length)
            under = 1;
        else if (PyUnicode_ReadChar(path, length) == '/')
            under = 1;
    }
    if (under) {
        if (PyDict_SetItem(environ, k_script_name, script_name) < 0)
            return -1;
        return set_string(environ, k_path_info,
                          PyUnicode_Substring(path, length, path_length));
    }
    if (PyDict_SetItem(environ, k_script_name, v_empty) < 0)
        return -1;
    return PyDict_SetItem(environ, k_path_info, path);
}

/* The percent-decoded path (as urllib.parse.unquote_to_bytes: a '%' not
 * followed by two hex digits stays), as a latin-1 str. */
static PyObject *
decode_path(const char *path, Py_ssize_t n)
{
    char small[512];
    char *out = n <= (Py_ssize_t)sizeof(small) ? small : PyMem_Malloc(n);
    Py_ssize_t i = 0, k = 0;
    PyObject *result;

    if (out == NULL)
        return PyErr_NoMemory();
    small[0] = '\0';
    while (i < n) {
        if (path[i] == '%' && i + 2 < n) {
            int high = hex_value((unsigned char)path[i + 1]);
            int low = hex_value((unsigned char)path[i + 2]);
            if (high >= 0 && low >= 0) {
                out[k++] = (char)(high * 16 + low);
                i += 3;
                continue;
            }
        }
        out[k++] = path[i++];
    }
    result = PyUnicode_DecodeLatin1(out, k, NULL);
    if (out != small)
        PyMem_Free(out);
    return result;
}

static PyObject *
parse_plain(PyObject *Py_UNUSED(module), PyObject *const *args,
            Py_ssize_t nargs)
{
    const char *head, *p, *end, *method, *target, *lines;
    Py_ssize_t size, max_head, max_target, method_length, target_length;
    Py_ssize_t path_length;
    PyObject *base, *script_name, *environ = NULL, *connection, *path;
    PyObject *result;
    int minor, hosts = 0, keep_alive;

    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "parse_plain() takes 5 arguments");
        return NULL;
    }
    if (!PyBytes_Check(args[0]) || !PyDict_Check(args[3])
            || !PyUnicode_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError, "parse_plain(head:bytes, "
                        "max_head:int, max_target:int, base:dict, "
                        "script_name:str)");
        return NULL;
    }
    head = PyBytes_AS_STRING(args[0]);
    size = PyBytes_GET_SIZE(args[0]);
    max_head = PyLong_AsSsize_t(args[1]);
    max_target = PyLong_AsSsize_t(args[2]);
    if ((max_head == -1 || max_target == -1) && PyErr_Occurred())
        return NULL;
    base = args[3];
    script_name = args[4];
    end = head + size;
    p = head;
    /* The request line. */
    if (size >= 4 && memcmp(p, "GET ", 4) == 0) {
        method_length = 3;
    }
    else if (size >= 5 && memcmp(p, "HEAD ", 5) == 0) {
        method_length = 4;
    }
    else {
        Py_RETURN_NONE;
    }
    method = p;
    p += method_length + 1;
    target = p;
    if (p >= end || *p != '/')
        Py_RETURN_NONE;
    while (p < end && is_alnum_or((unsigned char)*p, TARGET_MARKS))
        p++;
    target_length = p - target;
    if (end - p < 11 || memcmp(p, " HTTP/1.", 8) != 0
            || (p[8] != '0' && p[8] != '1') || p[9] != '\r' || p[10] != '\n')
        Py_RETURN_NONE;
    minor = p[8] - '0';
    p += 11;
    /* The header lines, then the blank line that ends the head. */
    lines = p;
    while (1) {
        const char *name = p, *value_end;
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
            p += 2;
            break;
        }
        while (p < end && is_alnum_or((unsigned char)*p, TOKEN_MARKS))
            p++;
        if (p == name || p >= end || *p != ':')
            Py_RETURN_NONE;
        p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p >= end || !is_visible((unsigned char)*p))
            Py_RETURN_NONE;
        value_end = p + 1;
        p++;
        while (p < end && (*p == '\t' || (*p >= 0x20 && *p <= 0x7e))) {
            if (is_visible((unsigned char)*p))
                value_end = p + 1;
            p++;
        }
        /* The value ends with a visible character, right before CRLF. */
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n' || value_end != p)
            Py_RETURN_NONE;
        p += 2;
    }
    if (p != end || size > max_head || target_length > max_target)
        Py_RETURN_NONE;
    environ = PyDict_Copy(base);
    if (environ == NULL)
        return NULL;
    /* The lines again, now known to be well formed, into the environ. */
    p = lines;
    while (!(p[0] == '\r' && p[1] == '\n')) {
        const char *name = p, *colon, *value, *line_end;
        colon = memchr(p, ':', end - p);
        line_end = colon;
        while (!(line_end[0] == '\r' && line_end[1] == '\n'))
            line_end++;
        value = colon + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        if (name_is(name, colon - name, "content-length")
                || name_is(name, colon - name, "transfer-encoding")
                || name_is(name, colon - name, "expect")
                || name_is(name, colon - name, "upgrade"))
            goto not_plain;
        if (name_is(name, colon - name, "host"))
            hosts++;
        if (add_header(environ, name, colon - name, value,
                       line_end - value) < 0)
            goto error;
        p = line_end + 2;
    }
    if (hosts > 1 || (hosts == 0 && minor == 1))
        goto not_plain;
    connection = PyDict_GetItemWithError(environ, k_http_connection);
    if (connection == NULL && PyErr_Occurred())
        goto error;
    if (connection == NULL) {
        keep_alive = minor == 1;
    }
    else {
        PyObject *lower = PyObject_CallMethod(connection, "lower", NULL);
        if (lower == NULL)
            goto error;
        if (PyUnicode_CompareWithASCIIString(lower, "close") == 0)
            keep_alive = 0;
        else if (PyUnicode_CompareWithASCIIString(lower, "keep-alive") == 0)
            keep_alive = 1;
        else {
            Py_DECREF(lower);
            goto not_plain;
        }
        Py_DECREF(lower);
    }
    if (PyDict_SetItem(environ, k_request_method,
                       method_length == 3 ? v_get : v_head) < 0
            || PyDict_SetItem(environ, k_server_protocol,
                              minor ? v_http_11 : v_http_10) < 0
            || set_string(environ, k_request_uri, PyUnicode_FromStringAndSize(
                target, target_length)) < 0)
        goto error;
    {
        const char *query = memchr(target, '?', target_length);
        path_length = query == NULL ? target_length : query - target;
        if (query == NULL
                ? PyDict_SetItem(environ, k_query_string, v_empty) < 0
                : set_string(environ, k_query_string,
                             PyUnicode_FromStringAndSize(
                                 query + 1,
                                 target + target_length - query - 1)) < 0)
            goto error;
    }
    path = decode_path(target, path_length);
    if (path == NULL)
        goto error;
    if (set_path(environ, path, script_name) < 0) {
        Py_DECREF(path);
        goto error;
    }
    Py_DECREF(path);
    result = PyTuple_New(5);
    if (result == NULL)
        goto error;
    PyTuple_SET_ITEM(result, 0, PyBytes_FromStringAndSize(method,
                                                          method_length));
    PyTuple_SET_ITEM(result, 1, PyBytes_FromStringAndSize(target,
                                                          target_length));
    PyTuple_SET_ITEM(result, 2, PyLong_FromLong(minor));
    PyTuple_SET_ITEM(result, 3, Py_NewRef(keep_alive ? Py_True : Py_False));
    PyTuple_SET_ITEM(result, 4, environ);
    if (PyTuple_GET_ITEM(result, 0) == NULL
            || PyTuple_GET_ITEM(result, 1) == NULL
            || PyTuple_GET_ITEM(result, 2) == NULL) {
        Py_DECREF(result);
        return NULL;
    }
    return result;

not_plain:
    Py_DECREF(environ);
    Py_RETURN_NONE;
error:
    Py_XDECREF(environ);
    return NULL;
}

static PyMethodDef methods[] = {
    {"parse_plain", (PyCFunction)(void (*)(void))parse_plain, METH_FASTCALL,
     "parse_plain(head, max_head, max_target, base, script_name)\n"
     "    -> (method, target, minor, keep_alive, environ) | None"},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "qpd.lib._speedups",
    "The C version of qpd.server.protocol's plain request reader.", -1, methods, NULL, NULL, NULL, NULL
};

static int
make_constant(PyObject **where, const char *text)
{
    *where = PyUnicode_InternFromString(text);
    return *where == NULL ? -1 : 0;
}

PyMODINIT_FUNC
PyInit__speedups(void)
{
    if (make_constant(&k_request_method, "REQUEST_METHOD") < 0
            || make_constant(&k_server_protocol, "SERVER_PROTOCOL") < 0
            || make_constant(&k_request_uri, "REQUEST_URI") < 0
            || make_constant(&k_query_string, "QUERY_STRING") < 0
            || make_constant(&k_script_name, "SCRIPT_NAME") < 0
            || make_constant(&k_path_info, "PATH_INFO") < 0
            || make_constant(&k_http_connection, "HTTP_CONNECTION") < 0
            || make_constant(&k_http_cookie, "HTTP_COOKIE") < 0
            || make_constant(&v_get, "GET") < 0
            || make_constant(&v_head, "HEAD") < 0
            || make_constant(&v_http_10, "HTTP/1.0") < 0
            || make_constant(&v_http_11, "HTTP/1.1") < 0
            || make_constant(&v_empty, "") < 0)
        return NULL;
    return PyModule_Create(&module);
}

/*
 * cgi2scgi: run as a CGI program, forward the request to an SCGI server
 * and copy its response back, so that any CGI-capable web server can serve
 * a qpd site through the site's scgi_address.
 *
 * The SCGI server's address is compiled in:
 *     cc -O2 -DSCGI_HOST='"127.0.0.1"' -DSCGI_PORT=8001 -o cgi2scgi cgi2scgi.c
 *     cc -O2 -DSCGI_SOCKET='"/path/to/scgi.sock"' -o cgi2scgi cgi2scgi.c
 * (`qpd build NAME` does this for a site.)
 *
 * The request is the CGI environment as SCGI headers (CONTENT_LENGTH
 * first, then SCGI=1, then every other variable) followed by CONTENT_LENGTH
 * bytes of standard input. The response is copied to standard output; a
 * response that starts with an HTTP status line ("HTTP/1.1 200 OK") has it
 * turned into a CGI "Status:" header. When the server cannot be reached,
 * the answer is a 502 page.
 */

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#if !defined(SCGI_SOCKET) && !defined(SCGI_PORT)
#error "define SCGI_PORT (and SCGI_HOST) or SCGI_SOCKET"
#endif
#ifndef SCGI_HOST
#define SCGI_HOST "127.0.0.1"
#endif

#define STRINGIFY2(x) #x
#define STRINGIFY(x) STRINGIFY2(x)

extern char **environ;

static void fail(const char *what)
{
    const char *reason = errno ? strerror(errno) : "protocol error";
    printf("Status: 502 Bad Gateway\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\n"
           "cgi2scgi: %s: %s\n", what, reason);
    fflush(stdout);
    exit(0);
}

static int write_all(int fd, const char *data, size_t length)
{
    while (length > 0) {
        ssize_t n = write(fd, data, length);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += n;
        length -= (size_t)n;
    }
    return 0;
}

static int connect_to_server(void)
{
#ifdef SCGI_SOCKET
    struct sockaddr_un address;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    if (strlen(SCGI_SOCKET) >= sizeof address.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(address.sun_path, SCGI_SOCKET);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0)
        return -1;
    return fd;
#else
    struct addrinfo hints, *found, *each;
    int fd = -1;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(SCGI_HOST, STRINGIFY(SCGI_PORT), &hints, &found) != 0) {
        errno = EHOSTUNREACH;
        return -1;
    }
    for (each = found; each; each = each->ai_next) {
        fd = socket(each->ai_family, each->ai_socktype, each->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, each->ai_addr, each->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(found);
    return fd;
#endif
}

/* Append name\0value\0 to buffer (when not NULL); answer the length. */
static size_t add_header(char *buffer, const char *name, size_t name_length,
                         const char *value)
{
    size_t value_length = strlen(value);
    if (buffer) {
        memcpy(buffer, name, name_length);
        buffer[name_length] = '\0';
        memcpy(buffer + name_length + 1, value, value_length);
        buffer[name_length + 1 + value_length] = '\0';
    }
    return name_length + value_length + 2;
}

static size_t make_headers(char *buffer, const char *content_length)
{
    size_t total = 0;
    char **each;
    total += add_header(buffer ? buffer + total : NULL, "CONTENT_LENGTH", 14,
                        content_length);
    total += add_header(buffer ? buffer + total : NULL, "SCGI", 4, "1");
    for (each = environ; *each; each++) {
        const char *equals = strchr(*each, '=');
        size_t name_length;
        if (!equals)
            continue;
        name_length = (size_t)(equals - *each);
        if ((name_length == 14 && !strncmp(*each, "CONTENT_LENGTH", 14)) ||
            (name_length == 4 && !strncmp(*each, "SCGI", 4)))
            continue;
        total += add_header(buffer ? buffer + total : NULL, *each,
                            name_length, equals + 1);
    }
    return total;
}

static void send_request(int fd)
{
    const char *content_length = getenv("CONTENT_LENGTH");
    long remaining;
    size_t length;
    char *request, prefix[32], buffer[65536];
    int prefix_length;

    if (!content_length || !*content_length)
        content_length = "0";
    remaining = strtol(content_length, NULL, 10);
    if (remaining < 0)
        remaining = 0;
    length = make_headers(NULL, content_length);
    request = malloc(length + 1);
    if (!request)
        fail("out of memory");
    make_headers(request, content_length);
    prefix_length = snprintf(prefix, sizeof prefix, "%lu:",
                             (unsigned long)length);
    if (write_all(fd, prefix, (size_t)prefix_length) < 0 ||
        write_all(fd, request, length) < 0 || write_all(fd, ",", 1) < 0)
        fail("sending the request headers");
    free(request);
    while (remaining > 0) {
        size_t want = remaining < (long)sizeof buffer ?
                      (size_t)remaining : sizeof buffer;
        ssize_t n = read(STDIN_FILENO, buffer, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (write_all(fd, buffer, (size_t)n) < 0)
            fail("sending the request body");
        remaining -= n;
    }
}

static void copy_response(int fd)
{
    char buffer[65536];
    size_t have = 0;
    int first = 1;
    for (;;) {
        ssize_t n = read(fd, buffer + have, sizeof buffer - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail("reading the response");
        have += (size_t)n;
        if (first) {
            char *end = memchr(buffer, '\n', have);
            if (!end && n > 0 && have < sizeof buffer &&
                !(have >= 5 && strncmp(buffer, "HTTP/", 5)))
                continue;      /* wait for the whole first line */
            first = 0;
            if (have == 0) {
                errno = 0;
                fail("empty response");
            }
            if (end && have >= 5 && !strncmp(buffer, "HTTP/", 5)) {
                char *status = memchr(buffer, ' ', (size_t)(end - buffer));
                if (status) {
                    size_t skip = (size_t)(status + 1 - buffer);
                    if (write_all(STDOUT_FILENO, "Status: ", 8) < 0)
                        exit(1);
                    memmove(buffer, buffer + skip, have - skip);
                    have -= skip;
                }
            }
        }
        if (have && write_all(STDOUT_FILENO, buffer, have) < 0)
            exit(1);
        have = 0;
        if (n == 0)
            break;
    }
}

int main(void)
{
    int fd = connect_to_server();
    if (fd < 0)
#ifdef SCGI_SOCKET
        fail("connecting to " SCGI_SOCKET);
#else
        fail("connecting to " SCGI_HOST ":" STRINGIFY(SCGI_PORT));
#endif
    send_request(fd);
    copy_response(fd);
    close(fd);
    return 0;
}

/* The floor for line scanning: count the LF bytes of a buffer with memchr.
 * Compiled at benchmark time by bench/peers.py and called through ctypes once per chunk. */
#include <stddef.h>
#include <string.h>

size_t count_lf(const char *buffer, size_t length)
{
    const char *end = buffer + length;
    const char *found;
    size_t lines = 0;

    while (buffer < end && (found = memchr(buffer, '\n', (size_t)(end - buffer))) != NULL) {
        lines++;
        buffer = found + 1;
    }
    return lines;
}

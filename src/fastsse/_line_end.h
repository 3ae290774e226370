/* The SSE scanner's search: the first CR or LF in [p, end), or NULL if there is none.
 *
 * SSE lines end at CR, LF or CRLF, so the scanner needs whichever comes first. On x86
 * (SSE2 is part of every x86-64 CPU) one pass compares 32 bytes at a time with both.
 * Elsewhere, or built with FASTSSE_PORTABLE_SCAN defined (how the tests reach this
 * branch on x86), memchr, which every C library vectorises, for each of the two; how
 * far each has been searched is kept in a fastsse_line_end_cache, so that a chunk with
 * many lines of one kind is not searched again for the other, and a search cut short
 * (the decoder searches a first window of a large chunk before releasing the GIL for
 * the rest) resumes where it stopped: each byte is searched at most once for each.
 * Start a chunk with both cache fields NULL.
 */
#ifndef FASTSSE_LINE_END_H
#define FASTSSE_LINE_END_H

#include <stddef.h>
#include <string.h>

#if defined(_MSC_VER) && !defined(__clang__)
#define FASTSSE_INLINE static __inline
#else
#define FASTSSE_INLINE static inline
#endif

#if !defined(FASTSSE_PORTABLE_SCAN) && \
    (defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2))
#define FASTSSE_SCAN_SSE2 1
#include <emmintrin.h>
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
FASTSSE_INLINE unsigned fastsse_lowest_bit(unsigned mask)
{
    unsigned long index;
    _BitScanForward(&index, mask);
    return (unsigned)index;
}
#else
FASTSSE_INLINE unsigned fastsse_lowest_bit(unsigned mask) { return (unsigned)__builtin_ctz(mask); }
#endif

/* Bit i set where p[i] is CR or LF, for the 16 bytes at p. */
FASTSSE_INLINE unsigned fastsse_line_end_mask(const char* p)
{
    const __m128i bytes = _mm_loadu_si128((const __m128i*)p);
    const __m128i lf = _mm_cmpeq_epi8(bytes, _mm_set1_epi8('\n'));
    const __m128i cr = _mm_cmpeq_epi8(bytes, _mm_set1_epi8('\r'));
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(lf, cr));
}
#else
#define FASTSSE_SCAN_SSE2 0
#endif

typedef struct {
    /* No LF lies between the last search's start and lf: lf is the next LF, or where
     * the search for one stopped (the end it was given). */
    const char* lf;
    const char* cr; /* the same for CR */
} fastsse_line_end_cache;

#if !FASTSSE_SCAN_SSE2
/* The first `byte` in [p, end), or NULL; *known as the cache fields above. */
FASTSSE_INLINE const char* fastsse_next_byte(const char* p, const char* end, const char** known, char byte)
{
    const char* q = *known;
    const char* found;
    if (q == NULL || q < p)
        q = p;
    if (q < end && *q != byte) {
        found = (const char*)memchr(q, byte, (size_t)(end - q));
        q = found ? found : end;
    }
    *known = q;
    return (q < end && *q == byte) ? q : NULL;
}
#endif

FASTSSE_INLINE const char* fastsse_line_end(const char* p, const char* end, fastsse_line_end_cache* cache)
{
#if FASTSSE_SCAN_SSE2
    unsigned low, high;
    const char* start = p;
    const char* last;
    (void)cache;
    while ((size_t)(end - p) >= 32) {
        low = fastsse_line_end_mask(p);
        high = fastsse_line_end_mask(p + 16);
        if (low | high)
            return low ? p + fastsse_lowest_bit(low) : p + 16 + fastsse_lowest_bit(high);
        p += 32;
    }
    if ((size_t)(end - p) >= 16) {
        low = fastsse_line_end_mask(p);
        if (low)
            return p + fastsse_lowest_bit(low);
        p += 16;
    }
    if (p < end && (size_t)(end - start) >= 16) {
        /* The last 16 bytes, overlapping bytes already searched: those hold no line
         * end, so the first one found is at or after p. */
        last = end - 16;
        low = fastsse_line_end_mask(last);
        return low ? last + fastsse_lowest_bit(low) : NULL;
    }
    for (; p < end; p++) {
        if (*p == '\n' || *p == '\r')
            return p;
    }
    return NULL;
#else
    const char* lf = fastsse_next_byte(p, end, &cache->lf, '\n');
    const char* cr = fastsse_next_byte(p, end, &cache->cr, '\r');
    if (lf == NULL)
        return cr;
    return (cr != NULL && cr < lf) ? cr : lf;
#endif
}

/* The first byte in [p, end) that is not `byte` (nor CR, when `or_cr`), or end: the
 * end of a run of blank lines, which the decoders skip in one pass. */
FASTSSE_INLINE const char* fastsse_run_end(const char* p, const char* end, char byte, int or_cr)
{
#if FASTSSE_SCAN_SSE2
    unsigned mask;
    const __m128i want = _mm_set1_epi8(byte);
    const __m128i cr = _mm_set1_epi8(or_cr ? '\r' : byte);
    __m128i bytes;
    while ((size_t)(end - p) >= 16) {
        bytes = _mm_loadu_si128((const __m128i*)p);
        mask = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(bytes, want), _mm_cmpeq_epi8(bytes, cr)));
        if (mask != 0xFFFFu)
            return p + fastsse_lowest_bit(~mask & 0xFFFFu);
        p += 16;
    }
#endif
    for (; p < end; p++) {
        if (*p != byte && !(or_cr && *p == '\r'))
            return p;
    }
    return end;
}

/* Whether [p, end) holds a CR or LF: for a range already known to end a line, where
 * only its absence matters. No position is needed, so the last block may overlap the
 * ones before it: no byte-by-byte tail. */
FASTSSE_INLINE int fastsse_has_line_end(const char* p, const char* end)
{
#if FASTSSE_SCAN_SSE2
    unsigned seen = 0;
    const char* last;
    if ((size_t)(end - p) >= 16) {
        last = end - 16;
        while ((size_t)(last - p) >= 32) {
            if (fastsse_line_end_mask(p) | fastsse_line_end_mask(p + 16))
                return 1;
            p += 32;
        }
        if ((size_t)(last - p) >= 16)
            seen = fastsse_line_end_mask(p + 16);
        return (seen | fastsse_line_end_mask(p) | fastsse_line_end_mask(last)) != 0;
    }
    for (; p < end; p++) {
        if (*p == '\n' || *p == '\r')
            return 1;
    }
    return 0;
#else
    size_t n = (size_t)(end - p);
    return memchr(p, '\n', n) != NULL || memchr(p, '\r', n) != NULL;
#endif
}

#endif

# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The per-inquiry hot loops in C: term look-ups, counts, sublinear tf-idf and scores (issue 10).

Python spent most of a single prediction on interpreter overhead (Counters, a
dozen small numpy calls per sentence), not on arithmetic. These loops give the
same numbers as the array code they replace: terms keep their first-occurrence
order, so rows and dot products are built in the same order as before.
"""

from cpython.dict cimport PyDict_GetItem
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.long cimport PyLong_AsSsize_t
from cpython.ref cimport Py_INCREF, Py_XDECREF, PyObject
from cpython.unicode cimport (Py_UNICODE_ISALNUM, Py_UNICODE_ISSPACE, PyUnicode_DATA, PyUnicode_Find, PyUnicode_GET_LENGTH, PyUnicode_KIND, PyUnicode_READ,
                              PyUnicode_READ_CHAR, PyUnicode_Substring)
from libc.math cimport exp, log, sqrt
from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memset

import unicodedata

import numpy as np


cdef extern from *:
    void __builtin_prefetch(const void* address) noexcept nogil

cdef extern from "Python.h":
    object PyUnicode_FromKindAndData(int kind, const void* buffer, Py_ssize_t size)
    int PyUnicode_4BYTE_KIND


cdef extern from "<stdlib.h>" nogil:
    int posix_memalign(void** address, size_t alignment, size_t size)

cdef extern from *:
    """
    #include <sys/mman.h>
    #ifndef MADV_HUGEPAGE  /* not Linux: the advice becomes MADV_NORMAL, which changes nothing */
    #define MADV_HUGEPAGE 0
    #endif
    """
    int madvise(void* address, size_t length, int advice) nogil
    int MADV_HUGEPAGE


DEF HUGE_PAGE = 2097152


cdef void* _table_memory(size_t size) noexcept nogil:
    """Return ``size`` zeroed bytes (NULL when out of memory) that the kernel may back with 2 MB pages.

    The scorer's tables (about 17 MB) are read at random places, a few hundred per text: with 4 kB pages
    nearly every read also misses the TLB, whose entries cover far less than the tables. Free with ``free``.
    """
    cdef void* address = NULL
    cdef size_t rounded = (size + HUGE_PAGE - 1) // HUGE_PAGE * HUGE_PAGE
    if posix_memalign(&address, HUGE_PAGE, rounded) != 0:
        return NULL
    madvise(address, rounded, MADV_HUGEPAGE)  # advice only: without huge pages the tables work as before
    memset(address, 0, rounded)
    return address


cdef struct Hit:
    Py_ssize_t idx  # the term's column in its vocabulary
    Py_ssize_t pos  # where it occurs in the text's term sequence
    Py_ssize_t count


cdef Py_ssize_t _table_size(Py_ssize_t n) noexcept nogil:
    """Return a power of two of at least twice ``n`` (the scratch table of ``_distinct``)."""
    cdef Py_ssize_t size = 16
    while size < 2 * n:
        size *= 2
    return size


cdef Py_ssize_t _distinct(const Hit* hits, Py_ssize_t n, Hit* out, Py_ssize_t* seen) noexcept nogil:
    """Write each distinct term of ``hits`` once into ``out`` with its count, in first-occurrence order.

    ``seen`` is scratch space of ``_table_size(n)`` entries: a small open-addressing
    table from a term's column to its place in ``out`` (plus one), cleared here.
    """
    cdef Py_ssize_t i, h, k = 0, size = _table_size(n), mask = size - 1
    memset(seen, 0, size * sizeof(Py_ssize_t))
    for i in range(n):
        h = <Py_ssize_t>((<uint64_t>hits[i].idx * 0x9E3779B97F4A7C15ULL) >> 32) & mask
        while seen[h] != 0 and out[seen[h] - 1].idx != hits[i].idx:
            h = (h + 1) & mask
        if seen[h] != 0:
            out[seen[h] - 1].count += 1
        else:
            out[k] = hits[i]
            out[k].count = 1
            k += 1
            seen[h] = k
    return k


cdef Py_ssize_t _look_up(list terms, dict vocab, Hit* out, Py_ssize_t pos) except -1:
    """Append the known terms of ``terms`` to ``out`` (positions from ``pos``); return how many."""
    cdef Py_ssize_t i, k = 0, n = PyList_GET_SIZE(terms)
    cdef PyObject* found
    for i in range(n):
        found = PyDict_GetItem(vocab, <object>PyList_GET_ITEM(terms, i))
        if found is not NULL:
            out[k].idx = PyLong_AsSsize_t(<object>found)
            out[k].pos = pos + i
            k += 1
    return k


cdef struct Slot:
    uint64_t key  # up to three code points, each plus one, 21 bits apiece; 0 marks a free slot
    Py_ssize_t idx


cdef inline uint64_t _pack(str term) noexcept:
    """Return the code points of a term of one to three characters as one key (0 for other lengths)."""
    cdef Py_ssize_t i, n = PyUnicode_GET_LENGTH(term)
    cdef uint64_t key = 0
    if n == 0 or n > 3:
        return 0
    for i in range(n):
        key |= (<uint64_t>PyUnicode_READ_CHAR(term, i) + 1) << (21 * i)
    return key


cdef inline Py_ssize_t _emit(Hit* out, Py_ssize_t k, Py_ssize_t column, Py_ssize_t pos) noexcept nogil:
    """Write a hit at ``out[k]`` when ``column`` is a vocabulary column (not -1); return the new count."""
    if column < 0:
        return k
    out[k].idx = column
    out[k].pos = pos
    return k + 1


cdef struct WordSlot:
    uint64_t key  # _hash of the word
    PyObject* term  # the word (kept alive by the vocabulary dict); NULL marks a free slot
    Py_ssize_t idx


cdef inline uint64_t _hash(str term) noexcept:
    """Return a 64-bit FNV-1a hash of a word's code points."""
    cdef Py_ssize_t i, n = PyUnicode_GET_LENGTH(term)
    cdef int kind = PyUnicode_KIND(term)
    cdef void* data = PyUnicode_DATA(term)
    cdef uint64_t h = 0xCBF29CE484222325ULL
    for i in range(n):
        h = (h ^ <uint64_t>PyUnicode_READ(kind, data, i)) * 0x100000001B3ULL
    return h


cdef inline Py_ssize_t _slot(uint64_t key, Py_ssize_t mask) noexcept nogil:
    return <Py_ssize_t>((key * 0x9E3779B97F4A7C15ULL) >> 32) & mask


cdef class Scorer:
    """A model's vocabularies and weights laid out for scoring one text at a time.

    Character n-grams are found by their code points in an open-addressing
    table, and each feature's idf and weights sit side by side: a look-up in a
    100k-entry dict and the reads of idf and weights are cache misses each,
    and they were most of the time left once the loops were in C.
    """

    cdef Slot* table
    cdef WordSlot* word_table
    cdef Py_ssize_t word_mask
    cdef Py_ssize_t mask
    cdef double* rows  # per feature: idf, then one weight per label
    cdef double* intercept
    cdef Py_ssize_t labels, stride, n_words
    cdef dict words, chars
    cdef bint long_chars  # some character terms have more than three code points: those go through the dict

    def __cinit__(self, dict words, dict chars, const double[::1] word_idf, const double[::1] char_idf,
                  const double[:, ::1] coef, const double[::1] intercept):
        cdef Py_ssize_t n_words = word_idf.shape[0], n_chars = char_idf.shape[0], i, c, size = 1, h
        cdef uint64_t key
        if coef.shape[0] != n_words + n_chars or len(words) != n_words or len(chars) != n_chars:
            raise ValueError("the weights do not match the vocabularies")
        self.words, self.chars, self.n_words = words, chars, n_words
        self.labels = coef.shape[1]
        self.stride = 1 + self.labels
        while size < n_chars + n_chars // 2 + 2:  # about half full: 4 MB, not 8, for 135k n-grams (fewer misses)
            size *= 2
        self.mask = size - 1
        self.table = <Slot*>_table_memory(size * sizeof(Slot))
        self.rows = <double*>_table_memory((n_words + n_chars) * self.stride * sizeof(double) + 1)
        self.intercept = <double*>malloc(self.labels * sizeof(double) + 1)
        if self.table is NULL or self.rows is NULL or self.intercept is NULL:
            raise MemoryError()
        for c in range(self.labels):
            self.intercept[c] = intercept[c]
        for i in range(n_words + n_chars):
            self.rows[i * self.stride] = word_idf[i] if i < n_words else char_idf[i - n_words]
            for c in range(self.labels):
                self.rows[i * self.stride + 1 + c] = coef[i, c]
        size = 16
        while size < 2 * n_words + 2:
            size *= 2
        self.word_mask = size - 1
        self.word_table = <WordSlot*>_table_memory(size * sizeof(WordSlot))
        if self.word_table is NULL:
            raise MemoryError()
        for term, column in words.items():
            key = _hash(<str?>term)
            h = _slot(key, self.word_mask)
            while self.word_table[h].term is not NULL:
                h = (h + 1) & self.word_mask
            self.word_table[h].key = key
            self.word_table[h].term = <PyObject*>term
            self.word_table[h].idx = <Py_ssize_t>column
        self.long_chars = False
        for term, column in chars.items():
            key = _pack(term)
            if key == 0:
                self.long_chars = True
                continue
            h = _slot(key, self.mask)
            while self.table[h].key != 0:
                h = (h + 1) & self.mask
            self.table[h].key = key
            self.table[h].idx = <Py_ssize_t>column + n_words

    def __dealloc__(self):
        free(self.table)
        free(self.word_table)
        free(self.rows)
        free(self.intercept)

    cdef Py_ssize_t _words(self, list terms, Hit* out, Py_ssize_t pos) except -1:
        """Append the known words of ``terms`` to ``out`` (positions from ``pos``); return how many.

        Like ``_chars``, in passes that let the cache misses overlap: every slot is
        prefetched, then the slot whose hash matches is read and its word prefetched,
        then the words are compared (a dict look-up missed the cache three times in a row).
        """
        cdef Py_ssize_t i, h, k = 0, n = PyList_GET_SIZE(terms)
        cdef uint64_t key
        for i in range(n):  # out[i] holds the hash and a slot until out[k <= i] overwrites it
            key = _hash(<str>PyList_GET_ITEM(terms, i))
            out[i].count = <Py_ssize_t>key
            h = _slot(key, self.word_mask)
            out[i].idx = h
            __builtin_prefetch(&self.word_table[h])
        for i in range(n):
            key = <uint64_t>out[i].count
            h = out[i].idx
            while self.word_table[h].term is not NULL and self.word_table[h].key != key:
                h = (h + 1) & self.word_mask
            out[i].idx = h
            if self.word_table[h].term is not NULL:
                __builtin_prefetch(self.word_table[h].term)
        for i in range(n):
            k = _emit(out, k, self._word_column(<uint64_t>out[i].count, out[i].idx, <str>PyList_GET_ITEM(terms, i)),
                      pos + i)
        return k

    cdef inline Py_ssize_t _word_column(self, uint64_t key, Py_ssize_t h, str term) except -2:
        """Return the column of ``term`` (hash ``key``, probing from slot ``h``), or -1 if unknown."""
        # Equal hashes of different words go on probing (never seen, but the result stays exact).
        while self.word_table[h].term is not NULL:
            if self.word_table[h].key == key and <str>self.word_table[h].term == term:
                return self.word_table[h].idx
            h = (h + 1) & self.word_mask
        return -1

    cdef Py_ssize_t _chars(self, list terms, Hit* out, Py_ssize_t pos) except -1:
        """Append the known n-grams of ``terms`` to ``out`` (positions from ``pos``); return how many.

        The table is larger than the caches and a text's n-grams fall anywhere in it: every slot
        is requested first (a prefetch each), then read, so that the cache misses overlap.
        """
        cdef Py_ssize_t i, h, column, k = 0, n = PyList_GET_SIZE(terms)
        cdef uint64_t key
        cdef PyObject* found
        for i in range(n):  # out[i] holds the key and its first slot until out[k <= i] overwrites it
            key = _pack(<str>PyList_GET_ITEM(terms, i))
            out[i].count = <Py_ssize_t>key  # at most 63 bits
            if key != 0:
                h = _slot(key, self.mask)
                out[i].idx = h
                __builtin_prefetch(&self.table[h])
        for i in range(n):
            key = <uint64_t>out[i].count
            if key != 0:
                column = self._char_column(key, out[i].idx)
            else:  # longer than three code points: only the dict knows it
                found = PyDict_GetItem(self.chars, <str>PyList_GET_ITEM(terms, i)) if self.long_chars else NULL
                column = PyLong_AsSsize_t(<object>found) + self.n_words if found is not NULL else -1
            k = _emit(out, k, column, pos + i)
        return k

    cdef Py_ssize_t _text_chars(self, const Py_UCS4* piece, Py_ssize_t m, Py_ssize_t lo, Py_ssize_t hi, Hit* out,
                                Py_ssize_t pos) noexcept:
        """``_chars`` of the n-grams of ``lo`` to ``hi`` (1 to 3) code points of ``piece``, in ``char_ngrams``' order.

        Their keys are packed from the code points directly: making each n-gram a
        string (about 330 per inquiry) cost more than looking them all up.
        """
        cdef Py_ssize_t n, i, j, t = 0, k = 0
        cdef uint64_t key
        for n in range(lo, hi + 1):
            for i in range(m - n + 1):  # out[t] holds the key and its first slot until out[k <= t] overwrites it
                key = 0
                for j in range(n):
                    key |= (<uint64_t>piece[i + j] + 1) << (21 * j)
                out[t].count = <Py_ssize_t>key
                out[t].idx = _slot(key, self.mask)
                __builtin_prefetch(&self.table[out[t].idx])
                t += 1
        for i in range(t):
            k = _emit(out, k, self._char_column(<uint64_t>out[i].count, out[i].idx), pos + i)
        return k

    cdef inline Py_ssize_t _char_column(self, uint64_t key, Py_ssize_t h) noexcept nogil:
        """Return the column of the n-gram packed as ``key`` (probing from slot ``h``), or -1 if unknown."""
        while self.table[h].key != 0:
            if self.table[h].key == key:
                return self.table[h].idx
            h = (h + 1) & self.mask
        return -1

    cdef void _score(self, const Hit* terms, Py_ssize_t k, double* val, double* scores) noexcept nogil:
        """Add the l2-normalised sublinear tf-idf of distinct terms, times their weights, to ``scores``."""
        cdef Py_ssize_t j, c
        cdef double norm = 0.0
        cdef const double* row
        for j in range(k):  # the rows of a text's terms lie anywhere in a table larger than the caches
            __builtin_prefetch(self.rows + terms[j].idx * self.stride)
        for j in range(k):
            val[j] = (1.0 + log(<double>terms[j].count)) * self.rows[terms[j].idx * self.stride]
            norm += val[j] * val[j]
        norm = sqrt(norm)
        for j in range(k):
            val[j] /= norm
            row = self.rows + terms[j].idx * self.stride + 1
            for c in range(self.labels):
                scores[c] += val[j] * row[c]

    def counts(self, docs, bint chars):
        """Return ``counts(docs, vocabulary)`` of the word (or, with ``chars``, character) vocabulary, from these tables.

        A batch looks its terms up here rather than in the dicts: the same counts, fewer cache misses.
        """
        return _csr(docs, None, self, chars)

    def score(self, list segments, bint with_words, str text=None, Py_ssize_t lo=1, Py_ssize_t hi=3, need=None):
        """Return the scores of a text's segments, together and one by one, before the softmax.

        ``segments`` are ``triage.features.Segment``s. Returns (whole scores,
        segment scores (segments × labels), and when ``with_words`` each
        segment's word tf-idf as (indices, values) arrays, else None). Given the
        normalized ``text``, each segment's character n-grams are those of ``lo``
        to ``hi`` code points (at most 3) of its slice of the text with its white
        space collapsed (what ``segment_features`` lists), not its ``chars``.
        Given ``need``, it is called with the whole scores once they are known; when
        it returns false the segments are not scored one by one (segment scores and
        words are None): a route that reads no sentence skips about a fifth of the work.
        """
        cdef Py_ssize_t n_seg = len(segments), labels = self.labels
        cdef Py_ssize_t s, c, total_w = 0, total_c = 0, kw, kc, longest = 0, m
        cdef list seg_w = [None] * n_seg, seg_c = [None] * n_seg
        cdef Py_ssize_t* spans = NULL
        cdef Py_UCS4* piece = NULL
        if text is not None:
            if lo < 1 or hi > 3:
                raise ValueError("n-grams read from the text have 1 to 3 code points")
            spans = <Py_ssize_t*>malloc((2 * n_seg + 1) * sizeof(Py_ssize_t))
            if spans is NULL:
                raise MemoryError()
        for s in range(n_seg):
            seg = segments[s]
            seg_w[s] = <list?>seg.words
            total_w += PyList_GET_SIZE(seg_w[s])
            if text is None:
                seg_c[s] = <list?>seg.chars
                total_c += PyList_GET_SIZE(seg_c[s])
            else:
                spans[2 * s] = max(0, <Py_ssize_t>seg.start)
                spans[2 * s + 1] = min(PyUnicode_GET_LENGTH(text), <Py_ssize_t>seg.end)
                m = max(0, spans[2 * s + 1] - spans[2 * s])
                longest = max(longest, m)
                total_c += m * max(0, hi - lo + 1)
        if text is not None:
            piece = <Py_UCS4*>malloc((longest + 1) * sizeof(Py_UCS4))
            if piece is NULL:
                free(spans)
                raise MemoryError()
        whole = np.empty(labels)
        per_seg = np.empty((n_seg, labels))
        cdef double[::1] whole_v = whole
        cdef double[:, ::1] seg_v = per_seg
        seg_words = [] if with_words else None
        cdef Py_ssize_t size = total_w + total_c + 1
        # One block: the hits of words then chars, their distinct terms, their values, bounds per segment.
        cdef Hit* hits = <Hit*>malloc(2 * size * sizeof(Hit))
        cdef double* val = <double*>malloc(size * sizeof(double))
        cdef Py_ssize_t* bounds = <Py_ssize_t*>malloc(
            (2 * (n_seg + 1) + _table_size(max(total_w, total_c))) * sizeof(Py_ssize_t))
        if hits is NULL or val is NULL or bounds is NULL:
            free(hits)
            free(val)
            free(bounds)
            free(spans)
            free(piece)
            raise MemoryError()
        cdef Py_ssize_t* seen = bounds + 2 * (n_seg + 1)
        cdef Hit* word_hits = hits
        cdef Hit* char_hits = hits + total_w
        cdef Hit* distinct = hits + size
        cdef double* out
        cdef Py_ssize_t wpos = 0, cpos = 0
        cdef Py_ssize_t* wb = bounds
        cdef Py_ssize_t* cb = bounds + n_seg + 1
        try:
            wb[0] = 0
            cb[0] = 0
            for s in range(n_seg):
                wb[s + 1] = wb[s] + self._words(seg_w[s], word_hits + wb[s], wpos)
                if text is None:
                    cb[s + 1] = cb[s] + self._chars(seg_c[s], char_hits + cb[s], cpos)
                    cpos += PyList_GET_SIZE(seg_c[s])
                else:
                    m = _collapsed(text, spans[2 * s], spans[2 * s + 1], piece)
                    cb[s + 1] = cb[s] + self._text_chars(piece, m, lo, hi, char_hits + cb[s], cpos)
                    cpos += m * max(0, hi - lo + 1)
                wpos += PyList_GET_SIZE(seg_w[s])
            for c in range(labels):
                whole_v[c] = self.intercept[c]
            kw = _distinct(word_hits, wb[n_seg], distinct, seen)
            self._score(distinct, kw, val, &whole_v[0])
            kc = _distinct(char_hits, cb[n_seg], distinct, seen)
            self._score(distinct, kc, val, &whole_v[0])
            if need is not None and not need(whole):
                return whole, None, None  # the buffers are freed by ``finally``
            for s in range(n_seg):
                out = &seg_v[s, 0]
                for c in range(labels):
                    out[c] = self.intercept[c]
                kw = _distinct(word_hits + wb[s], wb[s + 1] - wb[s], distinct, seen)
                self._score(distinct, kw, val, out)
                if with_words:
                    idx_a = np.empty(kw, dtype=np.intp)
                    val_a = np.empty(kw)
                    _fill(idx_a, val_a, distinct, val, kw)
                    seg_words.append((idx_a, val_a))
                kc = _distinct(char_hits + cb[s], cb[s + 1] - cb[s], distinct, seen)
                self._score(distinct, kc, val, out)
        finally:
            free(hits)
            free(val)
            free(bounds)
            free(spans)
            free(piece)
        return whole, per_seg, seg_words


cdef Py_ssize_t _collapsed(str text, Py_ssize_t start, Py_ssize_t end, Py_UCS4* out) noexcept:
    """Write the code points of ``" ".join(text[start:end].split())`` to ``out``; return how many."""
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_ssize_t i, m = 0
    cdef bint gap = False
    cdef Py_UCS4 ch
    for i in range(start, end):
        ch = PyUnicode_READ(kind, data, i)
        if Py_UNICODE_ISSPACE(ch):  # what str.split() splits on
            gap = m > 0
        else:
            if gap:
                out[m] = 32
                m += 1
                gap = False
            out[m] = ch
            m += 1
    return m


cdef void _softmax_row(double* row, Py_ssize_t n) noexcept nogil:
    """Turn ``row`` into its softmax in place, in the order of operations of ``triage.model._softmax``."""
    cdef Py_ssize_t c
    cdef double top = row[0], total = 0.0
    for c in range(1, n):
        if row[c] > top:
            top = row[c]
    for c in range(n):
        row[c] = exp(row[c] - top)
        total += row[c]
    for c in range(n):
        row[c] /= total


def softmax_rows(double[:, ::1] scores) -> None:
    """Turn each row of ``scores`` into its softmax in place (``triage.model._softmax`` without a numpy call per step)."""
    cdef Py_ssize_t r
    for r in range(scores.shape[0]):
        _softmax_row(&scores[r, 0], scores.shape[1])


def combine(const double[::1] scores, const double[:, ::1] comb_coef, const double[::1] comb_intercept):
    """Return a text's probabilities (1 × labels) and the combiner's over their logarithms (labels).

    What ``InquiryModel._final`` computes from the whole text alone (no sentence
    or concept inputs): softmax(log(p + 1e-6) @ coef + intercept), p the softmax of ``scores``.
    """
    cdef Py_ssize_t labels = scores.shape[0], c, k
    if comb_coef.shape[0] != labels or comb_coef.shape[1] != labels or comb_intercept.shape[0] != labels:
        raise ValueError("the combiner does not read the whole text's probabilities alone")
    whole = np.empty((1, labels))
    final = np.empty(labels)
    cdef double[:, ::1] p = whole
    cdef double[::1] f = final
    cdef double[16] meta
    if labels > 16:
        raise ValueError("at most 16 labels")
    for c in range(labels):
        p[0, c] = scores[c]
    _softmax_row(&p[0, 0], labels)
    for k in range(labels):
        meta[k] = log(p[0, k] + 1e-6)
    for c in range(labels):
        f[c] = 0.0
        for k in range(labels):
            f[c] += meta[k] * comb_coef[k, c]
        f[c] += comb_intercept[c]
    _softmax_row(&f[0], labels)
    return whole, final


cdef void _fill(Py_ssize_t[::1] idx, double[::1] val, const Hit* terms, const double* values, Py_ssize_t k):
    cdef Py_ssize_t j
    for j in range(k):
        idx[j] = terms[j].idx
        val[j] = values[j]


def char_ngrams(str piece, Py_ssize_t lo, Py_ssize_t hi):
    """Return every slice of ``piece`` of ``lo`` to ``hi`` characters, shortest first, each in text order."""
    cdef Py_ssize_t n, i, size = PyUnicode_GET_LENGTH(piece)
    cdef list out = []
    for n in range(lo, hi + 1):
        for i in range(size - n + 1):
            out.append(PyUnicode_Substring(piece, i, i + n))
    return out


def counts(docs, dict vocab):
    """Return CSR parts (data, indices, indptr) of the term counts of each document over ``vocab``.

    Within a row, terms come in first-occurrence order, unknown ones left out.
    """
    return _csr(docs, vocab, None, False)


cdef tuple _csr(docs, dict vocab, Scorer scorer, bint chars):
    """``counts`` with terms looked up in ``vocab`` or, when given, in ``scorer``'s word or character table."""
    cdef list rows = [doc if type(doc) is list else list(doc) for doc in docs]
    cdef Py_ssize_t n = len(rows), d, total = 0, k, j, nnz = 0, longest = 0, m, offset = 0
    for d in range(n):
        m = PyList_GET_SIZE(rows[d])
        total += m
        if m > longest:
            longest = m
    data = np.empty(total)
    indices = np.empty(total, dtype=np.int64)
    indptr = np.zeros(n + 1, dtype=np.int64)
    cdef double[::1] data_v = data
    cdef long long[::1] ind_v = indices
    cdef long long[::1] ptr_v = indptr
    cdef Hit* hits = <Hit*>malloc(2 * (longest + 1) * sizeof(Hit))
    cdef Py_ssize_t* seen = <Py_ssize_t*>malloc(_table_size(longest) * sizeof(Py_ssize_t))
    if hits is NULL or seen is NULL:
        free(hits)
        free(seen)
        raise MemoryError()
    cdef Hit* distinct = hits + longest + 1
    if scorer is not None and chars:
        offset = scorer.n_words  # the scorer numbers character terms after the words
    try:
        for d in range(n):
            if scorer is None:
                k = _look_up(<list>rows[d], vocab, hits, 0)
            elif chars:
                k = scorer._chars(<list>rows[d], hits, 0)
            else:
                k = scorer._words(<list>rows[d], hits, 0)
            k = _distinct(hits, k, distinct, seen)
            for j in range(k):
                data_v[nnz + j] = distinct[j].count
                ind_v[nnz + j] = distinct[j].idx - offset
            nnz += k
            ptr_v[d + 1] = nnz
    finally:
        free(hits)
        free(seen)
    return data[:nnz], indices[:nnz], indptr


# -- reading MeCab's output and building a text's features (triage.text, triage.features) ----------------------


# Recent pieces of MeCab's output (parts of speech, lemmas, surfaces), by a hash of their code points: most
# tokens of a text were in the texts before, and a new string per piece (three per token, then hashed
# again by every set and dict that looks it up) cost more than finding it here.
DEF PIECES = 16384
cdef PyObject* _pieces[PIECES]


cdef str _piece(str text, int kind, void* data, Py_ssize_t start, Py_ssize_t end):
    """Return ``text[start:end]``: the string returned last time for an equal piece, when it is still at hand."""
    cdef Py_ssize_t n = end - start, i, h
    cdef uint64_t key = 0xCBF29CE484222325ULL
    cdef PyObject* held
    cdef str piece
    if n > 16:
        return PyUnicode_Substring(text, start, end)
    for i in range(start, end):
        key = (key ^ <uint64_t>PyUnicode_READ(kind, data, i)) * 0x100000001B3ULL
    h = <Py_ssize_t>(key >> 40) & (PIECES - 1)
    held = _pieces[h]
    if held is not NULL and PyUnicode_GET_LENGTH(<str>held) == n:
        for i in range(n):
            if PyUnicode_READ_CHAR(<str>held, i) != PyUnicode_READ(kind, data, start + i):
                break
        else:
            return <str>held
    piece = PyUnicode_Substring(text, start, end)
    Py_INCREF(piece)
    # The slot is read again: release what it holds now, not what it held before the allocation (the
    # gthread workers' threads share this table; a switch between the two would release a string twice).
    held = _pieces[h]
    _pieces[h] = <PyObject*>piece
    Py_XDECREF(held)
    return piece


def read_tokens(str parsed):
    """Return (part of speech, lemma, surface) of each "pos<TAB>lemma<TAB>surface" line of MeCab's output.

    Lines without exactly three fields are skipped; a lemma is cut at its first
    "-" (loan words carry their source) and, when empty or "*", is the surface.
    """
    return _read(parsed, None)


def read_located(str parsed, str text):
    """``locate(text, read_tokens(parsed))`` in one pass, without the list of (part of speech, lemma, surface) between."""
    return _read(parsed, text)


cdef list _read(str parsed, str text):
    """``read_tokens`` (text None) or ``read_located`` (each token also placed in text)."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(parsed), i, line = 0, tabs = 0, t1 = 0, t2 = 0, cut
    cdef Py_ssize_t pos = 0, start = 0, size = 0 if text is None else PyUnicode_GET_LENGTH(text)
    cdef int kind = PyUnicode_KIND(parsed)
    cdef void* data = PyUnicode_DATA(parsed)
    cdef Py_UCS4 ch
    cdef str surface
    cdef list out = []
    for i in range(n + 1):
        ch = PyUnicode_READ(kind, data, i) if i < n else 10
        if ch == 9:
            tabs += 1
            if tabs == 1:
                t1 = i
            elif tabs == 2:
                t2 = i
        elif ch == 10:
            if tabs == 2:
                surface = _piece(parsed, kind, data, t2 + 1, i)
                if text is not None:
                    start = PyUnicode_Find(text, surface, pos, size, 1)
                if start >= 0:  # else MeCab dropped or changed it (whitespace): nothing to place
                    cut = t1 + 1
                    if not (t2 == t1 + 2 and PyUnicode_READ(kind, data, t1 + 1) == 42):  # "*": no lemma
                        while cut < t2 and PyUnicode_READ(kind, data, cut) != 45:  # up to the first "-"
                            cut += 1
                    lemma = _piece(parsed, kind, data, t1 + 1, cut) if cut > t1 + 1 else surface
                    if text is None:
                        out.append((_piece(parsed, kind, data, line, t1), lemma, surface))
                    else:
                        pos = start + PyUnicode_GET_LENGTH(surface)
                        out.append((_piece(parsed, kind, data, line, t1), lemma, surface, start, pos))
            line = i + 1
            tabs = 0
    return out


def locate(str text, tokens):
    """Return (part of speech, lemma, surface, start, end) of each token found in ``text`` after the one before."""
    cdef Py_ssize_t pos = 0, start, n = PyUnicode_GET_LENGTH(text)
    cdef list out = []
    for tag, lemma, surface in tokens:
        start = PyUnicode_Find(text, <str?>surface, pos, n, 1)
        if start < 0:  # MeCab dropped or changed it (whitespace): nothing to place
            continue
        pos = start + PyUnicode_GET_LENGTH(surface)
        out.append((tag, lemma, surface, start, pos))
    return out


def negated_clauses(list tokens, list bounds, frozenset negators, frozenset punct, frozenset question_after,
                    frozenset particles, frozenset predicate_pos):
    """Return the (start, end) of every clause of ``tokens`` that contains a negation (``features.negated_clauses``)."""
    cdef list out = []
    cdef bint negative = False, pending = False, boundary, any_negator = False
    cdef Py_ssize_t start = 0, end, last_end = 0
    for t in tokens:
        if t[1] in negators:
            any_negator = True
            break
    if not any_negator:
        return out
    ends = set()
    for _a, b in bounds:
        ends.add(b)
    previous = ""
    for tag, lemma, surface, _s, end_obj in tokens:
        end = end_obj
        if lemma in negators and (tag == "助動詞" or tag == "形容詞" or tag == "形状詞" or tag == "名詞"):
            negative = pending = True
        elif pending and tag == "助詞" and surface == "か":
            negative = pending = False
        elif pending and surface not in question_after:
            pending = False
        boundary = (surface in punct
                    or (tag == "助詞" and surface in particles and previous in predicate_pos)
                    or (tag == "助動詞" and (surface == "なら" or surface == "ならば"))
                    or end_obj in ends)
        previous = tag
        if boundary:
            if negative:
                out.append((start, end))
            start, negative, pending = end, False, False
    if negative:
        out.append((start, max(ends) if ends else start))
    return out


cdef inline bint _inside(list spans, Py_ssize_t* j, Py_ssize_t pos):
    """Whether ``pos`` lies in one of the sorted, disjoint ``spans``, for positions given in order (``j`` moves on)."""
    cdef Py_ssize_t n = PyList_GET_SIZE(spans)
    while j[0] < n and <Py_ssize_t>(<tuple>PyList_GET_ITEM(spans, j[0]))[1] <= pos:
        j[0] += 1
    return j[0] < n and <Py_ssize_t>(<tuple>PyList_GET_ITEM(spans, j[0]))[0] <= pos


def segment_features(str normalized, list segments, list every, frozenset keep, frozenset scoped_pos, list scopes,
                     list concept_spans, bint concept_features, str concept_prefix, Py_ssize_t lo, Py_ssize_t hi,
                     bint with_tokens=True):
    """Fill each segment's words, concepts and character n-grams; return the kept tokens.

    ``every`` holds (part of speech, lemma, surface, start, end) of all tokens;
    those of a part of speech in ``keep`` are the segment's lemmas, then its
    lemma bigrams, its scoped words (``prefix + lemma`` for a token of
    ``scoped_pos`` inside one of a scope's (prefix, spans), ``prefix +
    concept_prefix + concept`` for a concept), then, with ``concept_features``,
    ``concept_prefix + concept`` of its concepts. Returns (lemma, surface, start,
    end, part of speech) of the kept tokens (none without ``with_tokens``: only explanations read them).
    """
    cdef Py_ssize_t n_seg = len(segments), k, s, i, m, start, n_scopes = len(scopes)
    cdef Py_ssize_t j[4]
    if n_scopes > 4:
        raise ValueError("at most four scopes")
    cdef list starts = [seg.start for seg in segments]
    cdef list lemmas = [[] for _ in range(n_seg)]
    cdef list scoped = [[] for _ in range(n_seg)]
    cdef list concepts = [[] for _ in range(n_seg)]
    cdef list tokens = []
    cdef list spans
    cdef list bucket, words
    cdef tuple scope
    for s in range(n_scopes):
        j[s] = 0
    k = 0
    for tag, lemma, surface, start_obj, end_obj in every:
        if tag not in keep:
            continue
        start = start_obj
        if with_tokens:
            tokens.append((lemma, surface, start_obj, end_obj, tag))
        while k + 1 < n_seg and start >= <Py_ssize_t>starts[k + 1]:
            k += 1
        (<list>lemmas[k]).append(lemma)
        if n_scopes:
            scoped_tag = tag in scoped_pos
            for s in range(n_scopes):
                scope = <tuple>scopes[s]
                if _inside(<list>scope[1], &j[s], start) and scoped_tag:
                    (<list>scoped[k]).append(scope[0] + lemma)
    for s in range(n_scopes):
        j[s] = 0
    k = 0
    for concept, start_obj, _end in concept_spans:
        start = start_obj
        while k + 1 < n_seg and start >= <Py_ssize_t>starts[k + 1]:
            k += 1
        (<list>concepts[k]).append(concept)
        for s in range(n_scopes):
            scope = <tuple>scopes[s]
            if _inside(<list>scope[1], &j[s], start) and concept_features:
                (<list>scoped[k]).append(scope[0] + concept_prefix + concept)
    for k in range(n_seg):
        seg = segments[k]
        bucket = <list>lemmas[k]
        m = PyList_GET_SIZE(bucket)
        words = list(bucket)
        for i in range(m - 1):
            words.append(<str>PyList_GET_ITEM(bucket, i) + " " + <str>PyList_GET_ITEM(bucket, i + 1))
        words.extend(<list>scoped[k])
        if concept_features:
            for concept in <list>concepts[k]:
                words.append(concept_prefix + concept)
        seg.words = words
        seg.concepts = concepts[k]
        seg.chars = char_ngrams(" ".join(PyUnicode_Substring(normalized, seg.start, seg.end).split()), lo, hi) if lo <= hi else []
    return tokens


def digit_runs(str text, Py_ssize_t gap):
    """Return how many ASCII digits (0-9) ``text`` holds, its longest run of them, and the most in one group.

    A group is a stretch of digits in which each digit follows the one before after at most ``gap`` other
    characters.
    """
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_ssize_t i, n = PyUnicode_GET_LENGTH(text), found = 0, run = 0, longest = 0, group = 0, most = 0
    cdef Py_ssize_t last = -1
    cdef Py_UCS4 ch
    for i in range(n):
        ch = PyUnicode_READ(kind, data, i)
        if 48 <= ch <= 57:
            found += 1
            run += 1
            group = group + 1 if last >= 0 and i - last - 1 <= gap else 1
            last = i
            longest = max(longest, run)
            most = max(most, group)
        else:
            run = 0
    return found, longest, most


# What ``nfkc`` knows of each BMP code point, learnt from ``unicodedata`` the first time the character is seen:
# 0 not yet known; 1 a boundary before it, its own NFKC form; 2 a boundary before it, its NFKC form in
# _NFKC_FORM; 3 no boundary (see ``nfkc``).
cdef unsigned char _nfkc_state[65536]
cdef list _NFKC_FORM = [None] * 65536


cdef unsigned char _learn(Py_UCS4 ch):
    """Return and remember ``_nfkc_state`` of a BMP code point."""
    cdef str c = chr(<long>ch), form = unicodedata.normalize("NFKC", c)
    cdef Py_UCS4 d
    cdef unsigned char state = 3
    decomposed = unicodedata.normalize("NFKD", c)
    if decomposed and not 0xD800 <= ch <= 0xDFFF:
        d = ord(decomposed[0])
        # A starter that no composition takes as its second character (none below U+0300 or in
        # U+3000-U+9FFF: a test checks every pair of the running Python's data): normalization never
        # reaches back across it. Other starters are left to unicodedata, with their neighbours.
        if unicodedata.combining(decomposed[0]) == 0 and (d < 0x300 or 0x3000 <= d < 0xA000):
            state = 1 if form == c else 2
    if state == 2:
        _NFKC_FORM[<Py_ssize_t>ch] = form
    _nfkc_state[ch] = state
    return state


cdef Py_ssize_t _put(Py_UCS4** buf, Py_ssize_t* size, Py_ssize_t m, str piece) except -1:
    """Append the code points of ``piece`` at ``buf[m:]``, growing the buffer; return the new length."""
    cdef Py_ssize_t i, n = PyUnicode_GET_LENGTH(piece)
    cdef Py_UCS4* grown
    if m + n > size[0]:
        size[0] = 2 * (m + n)
        grown = <Py_UCS4*>realloc(buf[0], size[0] * sizeof(Py_UCS4))
        if grown is NULL:
            raise MemoryError()
        buf[0] = grown
    for i in range(n):
        buf[0][m + i] = PyUnicode_READ_CHAR(piece, i)
    return m + n


def nfkc(str text):
    """Return ``unicodedata.normalize("NFKC", text)``, character by character where that gives the same.

    Normalization never reaches back across a starter that no composition takes as its second character
    (a "boundary"): the text is cut before each such character, a piece of one character takes its own
    NFKC form (remembered), and a longer piece (a character with voicing or combining marks after it)
    goes to ``unicodedata``. ``unicodedata`` spent 0.2 µs per character of a text that was not normalized.
    """
    if unicodedata.is_normalized("NFKC", text):
        return text
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text), i, start = 0, m = 0, size = n + 16
    cdef Py_UCS4 ch, first
    cdef unsigned char state
    cdef Py_UCS4* buf = <Py_UCS4*>malloc(size * sizeof(Py_UCS4))
    if buf is NULL:
        raise MemoryError()
    try:
        for i in range(n + 1):
            if i < n:
                ch = PyUnicode_READ(kind, data, i)
                if ch < 0x80:
                    state = 1
                elif ch < 0x10000:
                    state = _nfkc_state[ch] or _learn(ch)
                else:
                    state = 3
                if state == 3 or i == 0:
                    continue
            # A boundary before i (or the end): the piece [start, i) is done.
            first = PyUnicode_READ(kind, data, start)
            if i - start == 1 and (first < 0x80 or (first < 0x10000 and _nfkc_state[first] == 1)):
                if m + 1 > size:
                    m = _put(&buf, &size, m, PyUnicode_Substring(text, start, i))
                else:
                    buf[m] = first
                    m += 1
            elif i - start == 1 and first < 0x10000 and _nfkc_state[first] == 2:
                m = _put(&buf, &size, m, <str>PyList_GET_ITEM(_NFKC_FORM, first))
            else:
                m = _put(&buf, &size, m, unicodedata.normalize("NFKC", PyUnicode_Substring(text, start, i)))
            start = i
        return PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, buf, m)
    finally:
        free(buf)


cdef inline bint _sentence_end(Py_UCS4 ch) noexcept:
    return ch == 0x3002 or ch == 33 or ch == 63 or ch == 10  # 。 ! ? and a line break


cdef void _add_piece(list pieces, int kind, void* data, Py_ssize_t start, Py_ssize_t end, Py_ssize_t shortest):
    """``triage.features`` before: a piece without its outer white space, or joined to the one before when short."""
    cdef Py_ssize_t last
    while start < end and Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, start)):
        start += 1
    while end > start and Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, end - 1)):
        end -= 1
    if start >= end:
        return
    if PyList_GET_SIZE(pieces):
        last = PyList_GET_SIZE(pieces) - 1
        a, b = <tuple>PyList_GET_ITEM(pieces, last)
        if end - start < shortest or <Py_ssize_t>b - <Py_ssize_t>a < shortest:
            pieces[last] = (a, end)
            return
    pieces.append((start, end))


def split_segments(str text, Py_ssize_t shortest):
    """Return the (start, end) of each sentence-like piece of ``text`` (``triage.features.split_segments``).

    Pieces end at a run of 。!? and line breaks, or at two or more white space
    characters (what ``re``'s ``[。!?\\n]+|\\s{2,}`` finds, scanning left to right);
    a piece shorter than ``shortest`` joins the one before, and so does one after a short piece.
    """
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text), p = 0, q, pos = 0
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_UCS4 ch
    cdef list pieces = []
    while p < n:
        ch = PyUnicode_READ(kind, data, p)
        q = p + 1
        if _sentence_end(ch):
            while q < n and _sentence_end(PyUnicode_READ(kind, data, q)):
                q += 1
        elif Py_UNICODE_ISSPACE(ch):
            while q < n and Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, q)):
                q += 1
            if q - p < 2:  # one space inside a sentence
                p = q
                continue
        else:
            p = q
            continue
        _add_piece(pieces, kind, data, pos, p, shortest)
        pos = p = q
    _add_piece(pieces, kind, data, pos, n, shortest)
    return pieces or [(0, n)]


cdef struct Edge:
    uint64_t key  # (node + 1) << 21 | code point; 0 marks a free slot
    Py_ssize_t child


cdef inline bint _word(Py_UCS4 ch) noexcept:
    """Whether ``re`` counts the character as a word character (\\w of a str pattern)."""
    return Py_UNICODE_ISALNUM(ch) or ch == 95  # "_"


cdef class TermMatcher:
    """The lexicon's terms in a trie: the longest term at each place, scanning left to right without overlaps.

    Finds what ``re`` finds with the alternation ``\\b(?:English terms)|(?:other
    terms)`` shaped as two tries (``triage.features.Lexicon``): at each place an
    ASCII term that starts at a word boundary wins, else any other term, each
    the longest one that matches there; the scan goes on after the match.
    """

    cdef Edge* table
    cdef Py_ssize_t mask
    cdef list concept  # per node: the concept of the term that ends there, or None
    cdef bint english

    def __cinit__(self, dict concept_of):
        cdef Py_ssize_t size = 16, n = 2, node, i, h
        cdef uint64_t key
        cdef str term
        for term in concept_of:
            n += PyUnicode_GET_LENGTH(term)
        while size < 2 * n:
            size *= 2
        self.mask = size - 1
        self.table = <Edge*>calloc(size, sizeof(Edge))
        if self.table is NULL:
            raise MemoryError()
        self.concept = [None, None]  # node 0 roots the ASCII terms, node 1 the others
        self.english = False
        for term, value in concept_of.items():
            node = 0 if term.isascii() else 1
            self.english = self.english or node == 0
            for i in range(PyUnicode_GET_LENGTH(term)):
                key = ((<uint64_t>node + 1) << 21) | <uint64_t>PyUnicode_READ_CHAR(term, i)
                h = _slot(key, self.mask)
                while self.table[h].key != 0 and self.table[h].key != key:
                    h = (h + 1) & self.mask
                if self.table[h].key == 0:
                    self.table[h].key = key
                    self.table[h].child = len(self.concept)
                    self.concept.append(None)
                node = self.table[h].child
            if self.concept[node] is None:
                self.concept[node] = value

    def __dealloc__(self):
        free(self.table)

    cdef Py_ssize_t _longest(self, Py_ssize_t node, int kind, void* data, Py_ssize_t p, Py_ssize_t n,
                             Py_ssize_t* found) noexcept:
        """Return where the longest term from ``node`` at ``p`` ends (-1 for none); its end node in ``found``."""
        cdef Py_ssize_t best = -1, h
        cdef uint64_t key
        while p < n:
            key = ((<uint64_t>node + 1) << 21) | <uint64_t>PyUnicode_READ(kind, data, p)
            h = _slot(key, self.mask)
            while self.table[h].key != 0 and self.table[h].key != key:
                h = (h + 1) & self.mask
            if self.table[h].key == 0:
                break
            node = self.table[h].child
            p += 1
            if <object>PyList_GET_ITEM(self.concept, node) is not None:
                best = p
                found[0] = node
        return best

    def matches(self, str text):
        """Return (concept, start, end) of every term found in ``text``."""
        cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text), p = 0, q, node = 0
        cdef int kind = PyUnicode_KIND(text)
        cdef void* data = PyUnicode_DATA(text)
        cdef list out = []
        while p < n:
            q = -1
            if self.english and ((p > 0 and _word(PyUnicode_READ(kind, data, p - 1)))
                                 != _word(PyUnicode_READ(kind, data, p))):
                q = self._longest(0, kind, data, p, n, &node)
            if q < 0:
                q = self._longest(1, kind, data, p, n, &node)
            if q < 0:
                p += 1
                continue
            out.append((self.concept[node], p, q))
            p = q
        return out


# -- claims: one character for one, offsets kept (claims._norm) ---------------------------------------------------

cdef Py_UCS4* _fold_map = NULL


def set_fold(dict mapping):
    """Set the table ``fold`` applies: code point (below 65536) -> one character, as for ``str.translate``."""
    global _fold_map
    cdef Py_UCS4* table = <Py_UCS4*>malloc(65536 * sizeof(Py_UCS4))
    cdef Py_ssize_t i
    if table is NULL:
        raise MemoryError()
    for i in range(65536):
        table[i] = <Py_UCS4>i
    try:
        for key, value in mapping.items():
            if not 0 <= key < 65536 or not isinstance(value, str) or len(value) != 1:
                raise ValueError(f"fold maps a code point below 65536 to one character, not {key!r} -> {value!r}")
            table[key] = ord(value)
    except BaseException:
        free(table)
        raise
    free(_fold_map)
    _fold_map = table


def fold(str text):
    """Return ``text.translate(mapping)`` for the table of ``set_fold`` (one character for one, same length).

    ``str.translate`` with a dict looks each character up in the dict: about 9 µs for an inquiry.
    """
    if _fold_map is NULL:
        raise RuntimeError("fold: no table (call set_fold first)")
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text), i, first = n
    cdef Py_UCS4 ch
    for i in range(n):
        ch = PyUnicode_READ(kind, data, i)
        if ch < 65536 and _fold_map[ch] != ch:
            first = i
            break
    if first == n:
        return text  # nothing to fold (ASCII, or kana and kanji alone)
    cdef Py_UCS4* buf = <Py_UCS4*>malloc(n * sizeof(Py_UCS4))
    if buf is NULL:
        raise MemoryError()
    try:
        for i in range(first):  # unchanged up to the first character folded
            buf[i] = PyUnicode_READ(kind, data, i)
        for i in range(first, n):
            ch = PyUnicode_READ(kind, data, i)
            buf[i] = _fold_map[ch] if ch < 65536 else ch
        return PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, buf, n)
    finally:
        free(buf)

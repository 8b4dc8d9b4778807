/*
 * The batch kernels' bodies, included by muse_kernels.c once per variant
 * with KFN(name) naming its functions, KATTR its target attribute and
 * KLEVEL its MUSE_KERNELS_* level. Everything here is `static`.
 *
 * Eight lanes: an event's 32-bit words fill a 256-bit register across the
 * lanes, its 64-bit words a 512-bit one (two 256-bit ones under AVX2).
 */

/* A lane's bit in an integer, for each lane whose `m` is all ones. */
KATTR static inline __attribute__((always_inline)) unsigned KFN(lanes_of)(i32x8 m) {
    const i32x8 bit = {1, 2, 4, 8, 16, 32, 64, 128};
    return (unsigned)__builtin_reduce_or(m & bit);
}

/* ANDs entries [from, to) into the lanes where `skip` is 0 (lanes where it
 * is all ones keep their bits): narrow form. */
KATTR static inline __attribute__((always_inline)) void KFN(and_narrow_masked)(const uint64_t *restrict packed, u32x8 *restrict bits,
                                                 int32_t from, int32_t to, u32x8 skip) {
    for (int32_t i = from; i < to; i++) {
        uint64_t p = packed[i];
        bits[p >> 32] &= (u32x8)(uint32_t)p | skip;
    }
}

/* The same with a per-entry lane test: a lane takes entry i when
 * s <= i < e (its own range). */
KATTR static inline __attribute__((always_inline)) void KFN(and_narrow_ranged)(const uint64_t *restrict packed, u32x8 *restrict bits,
                                                 int32_t from, int32_t to, i32x8 s, i32x8 e) {
    for (int32_t i = from; i < to; i++) {
        uint64_t p = packed[i];
        i32x8 out = (s > i) | (e <= i);
        bits[p >> 32] &= (u32x8)(uint32_t)p | (u32x8)out;
    }
}

KATTR static inline __attribute__((always_inline)) void KFN(and_narrow_all)(const uint64_t *restrict packed, u32x8 *restrict bits,
                                              int32_t from, int32_t to) {
    for (int32_t i = from; i < to; i++) {
        uint64_t p = packed[i];
        bits[p >> 32] &= (u32x8)(uint32_t)p;
    }
}

KATTR static inline __attribute__((always_inline)) void KFN(and_wide_masked)(const int32_t *restrict word, const uint64_t *restrict mask,
                                               u64x8 *restrict bits, int32_t from, int32_t to, u64x8 skip) {
    for (int32_t i = from; i < to; i++) bits[word[i]] &= (u64x8)mask[i] | skip;
}

KATTR static inline __attribute__((always_inline)) void KFN(and_wide_ranged)(const int32_t *restrict word, const uint64_t *restrict mask,
                                               u64x8 *restrict bits, int32_t from, int32_t to, i32x8 s, i32x8 e) {
    for (int32_t i = from; i < to; i++) {
        i64x8 out = __builtin_convertvector((s > i) | (e <= i), i64x8);
        bits[word[i]] &= (u64x8)mask[i] | (u64x8)out;
    }
}

KATTR static inline __attribute__((always_inline)) void KFN(and_wide_all)(const int32_t *restrict word, const uint64_t *restrict mask,
                                            u64x8 *restrict bits, int32_t from, int32_t to) {
    for (int32_t i = from; i < to; i++) bits[word[i]] &= (u64x8)mask[i];
}

KATTR static void KFN(apply)(const muse_bv_layout *l, void *bits, const int32_t *starts, const int32_t *ends,
                             int32_t ordered, int32_t scattered) {
    const int narrow = l->narrow;
    u32x8 *nb = bits;
    u64x8 *wb = bits;
    if (narrow) {
        for (int32_t w = 0; w < l->word_count; w++) nb[w] = (u32x8)~0u;
    } else {
        for (int32_t w = 0; w < l->word_count; w++) wb[w] = (u64x8)~(uint64_t)0;
    }
    const i32x8 *sv = (const i32x8 *)starts, *ev = (const i32x8 *)ends;
    /* Numeric features: the union of the lanes' ranges, with the lane test
     * only where some lane's range does not reach (its intersection, when
     * every lane has one, is ANDed into all lanes without a test). */
    for (int32_t r = 0; r < ordered; r++) {
        i32x8 s = sv[r], e = ev[r];
        i32x8 live = s < e;
        unsigned lanes = KFN(lanes_of)(live);
        if (lanes == 0) continue;
        int32_t lo = __builtin_reduce_min(live ? s : INT32_MAX);
        int32_t hi = __builtin_reduce_max(live ? e : INT32_MIN);
        int32_t a = hi, b = hi;
        if (lanes == 0xFF) {
            a = __builtin_reduce_max(s);
            b = __builtin_reduce_min(e);
            if (a >= b) a = b = hi;
        }
        if (narrow) {
            KFN(and_narrow_ranged)(l->packed, nb, lo, a, s, e);
            KFN(and_narrow_all)(l->packed, nb, a, b);
            KFN(and_narrow_ranged)(l->packed, nb, b, hi, s, e);
        } else {
            KFN(and_wide_ranged)(l->entry_word, l->entry_mask, wb, lo, a, s, e);
            KFN(and_wide_all)(l->entry_word, l->entry_mask, wb, a, b);
            KFN(and_wide_ranged)(l->entry_word, l->entry_mask, wb, b, hi, s, e);
        }
    }
    /* NaN and categorical lists: lanes with the same list take it together. */
    for (int32_t r = ordered; r < ordered + scattered; r++) {
        i32x8 s = sv[r], e = ev[r];
        unsigned pending = KFN(lanes_of)(s < e);
        while (pending) {
            int k = __builtin_ctz(pending);
            int32_t from = s[k], to = e[k];
            i32x8 same = (s == from) & (e == to);
            pending &= ~KFN(lanes_of)(same);
            if (narrow) {
                KFN(and_narrow_masked)(l->packed, nb, from, to, ~(u32x8)same);
            } else {
                KFN(and_wide_masked)(l->entry_word, l->entry_mask, wb, from, to,
                                     ~(u64x8)__builtin_convertvector(same, i64x8));
            }
        }
    }
}

/* Index of each lane's lowest set bit (the bits are never all clear: a
 * tree's rightmost leaf is never cleared). */
KATTR static inline __attribute__((always_inline)) i32x8 KFN(ctz32)(u32x8 w) {
    return (i32x8)__builtin_elementwise_popcount((w - 1) & ~w);
}

KATTR static inline __attribute__((always_inline)) i64x8 KFN(ctz64)(u64x8 w) {
    return (i64x8)__builtin_elementwise_popcount((w - 1) & ~w);
}

KATTR static inline __attribute__((always_inline)) f64x8 KFN(gather32)(const double *base, i32x8 idx) {
#if KLEVEL == MUSE_KERNELS_AVX512
    return (f64x8)_mm512_i32gather_pd((__m256i)idx, base, 8);
#elif KLEVEL == MUSE_KERNELS_AVX2
    __m128i lo = (__m128i)__builtin_shufflevector(idx, idx, 0, 1, 2, 3);
    __m128i hi = (__m128i)__builtin_shufflevector(idx, idx, 4, 5, 6, 7);
    f64x4 a = (f64x4)_mm256_i32gather_pd(base, lo, 8), b = (f64x4)_mm256_i32gather_pd(base, hi, 8);
    return __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7);
#else
    f64x8 v;
    for (int k = 0; k < 8; k++) v[k] = base[idx[k]];
    return v;
#endif
}

KATTR static inline __attribute__((always_inline)) f64x8 KFN(gather64)(const double *base, i64x8 idx) {
#if KLEVEL == MUSE_KERNELS_AVX512
    return (f64x8)_mm512_i64gather_pd((__m512i)idx, base, 8);
#elif KLEVEL == MUSE_KERNELS_AVX2
    __m256i lo = (__m256i)__builtin_shufflevector(idx, idx, 0, 1, 2, 3);
    __m256i hi = (__m256i)__builtin_shufflevector(idx, idx, 4, 5, 6, 7);
    f64x4 a = (f64x4)_mm256_i64gather_pd(base, lo, 8), b = (f64x4)_mm256_i64gather_pd(base, hi, 8);
    return __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7);
#else
    f64x8 v;
    for (int k = 0; k < 8; k++) v[k] = base[idx[k]];
    return v;
#endif
}

/* Tree t's exit leaf per lane, wide form. */
KATTR static inline __attribute__((always_inline)) f64x8 KFN(wide_leaf)(const muse_bv_layout *l, const u64x8 *bits, int32_t t) {
    int32_t first = l->tree_word[t];
    i64x8 leaf = (i64x8)(int64_t)l->tree_leaf[t];
    if (l->max_words_per_tree == 1) return KFN(gather64)(l->leaves, leaf + KFN(ctz64)(bits[first]));
    for (int k = 0; k < 8; k++) {
        int32_t w = first;
        while (bits[w][k] == 0) w++;
        leaf[k] += (int64_t)(w - first) * 64 + __builtin_ctzll(bits[w][k]);
    }
    return KFN(gather64)(l->leaves, leaf);
}

KATTR static void KFN(sum)(const muse_bv_layout *l, const void *bits, int float_sum, double base, double *out) {
    const int32_t trees = l->tree_count;
    f64x8 total = 0;
    f32x8 ftotal = (float)base;
    if (l->narrow) {
        const u32x8 *b = bits;
        const double *padded = l->padded_leaves;
        if (float_sum) {
            for (int32_t t = 0; t < trees; t++)
                ftotal += __builtin_convertvector(KFN(gather32)(padded, t * 32 + KFN(ctz32)(b[t])), f32x8);
        } else {
            for (int32_t t = 0; t < trees; t++) total += KFN(gather32)(padded, t * 32 + KFN(ctz32)(b[t]));
        }
    } else {
        const u64x8 *b = bits;
        if (float_sum) {
            for (int32_t t = 0; t < trees; t++) ftotal += __builtin_convertvector(KFN(wide_leaf)(l, b, t), f32x8);
        } else {
            for (int32_t t = 0; t < trees; t++) total += KFN(wide_leaf)(l, b, t);
        }
    }
    if (float_sum) total = __builtin_convertvector(ftotal, f64x8);
    for (int k = 0; k < 8; k++) out[k] = total[k];
}

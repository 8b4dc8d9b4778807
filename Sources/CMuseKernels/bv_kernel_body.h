/*
 * The batch kernels' bodies, included by muse_kernels.c once per variant
 * with KFN(name) naming its functions, KATTR its target attribute and
 * KLEVEL its MUSE_KERNELS_* level. Everything here is `static`.
 *
 * Eight lanes: an event's 32-bit words fill a 256-bit register across the
 * lanes, its 64-bit words a 512-bit one (two 256-bit ones under AVX2).
 */

#define KINLINE KATTR static inline __attribute__((always_inline))

/* A lane's bit in an integer, for each lane whose `m` is all ones. */
KINLINE unsigned KFN(lanes_of)(i32x8 m) {
    const i32x8 bit = {1, 2, 4, 8, 16, 32, 64, 128};
    return (unsigned)__builtin_reduce_or(m & bit);
}

KINLINE f64x8 KFN(gather_f64)(const double *base, i32x8 idx) {
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

KINLINE f64x8 KFN(gather_f64_by64)(const double *base, i64x8 idx) {
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

KINLINE i32x8 KFN(gather_i32)(const int32_t *base, i32x8 idx) {
#if KLEVEL == MUSE_KERNELS_AVX512 || KLEVEL == MUSE_KERNELS_AVX2
    return (i32x8)_mm256_i32gather_epi32((const int *)base, (__m256i)idx, 4);
#else
    i32x8 v;
    for (int k = 0; k < 8; k++) v[k] = base[idx[k]];
    return v;
#endif
}

/* ---- Ranges of the numeric features ---- */

/* Features searched side by side: a step's gather waits for the one
 * before it, so one search at a time leaves the CPU idle for most of each
 * gather's latency; several interleaved keep as many gathers in flight. */
#define MUSE_BV_FIND_GROUP 8

/* Each lane's count of feature k's distinct thresholds below its value, by
 * a binary search whose steps depend only on the count (so the lanes step
 * together): the same count the single-event search finds. NaN compares
 * false everywhere (count 0; its range is replaced by the NaN list). */
KATTR static void KFN(find)(const muse_bv_layout *l, const double *values, int32_t lanes, int32_t *starts,
                            int32_t *ends) {
    const int32_t features = l->num_features;
    const i32x8 index = {0, 1, 2, 3, 4, 5, 6, 7};
    const i32x8 used = index < lanes;
    i32x8 *so = (i32x8 *)starts, *eo = (i32x8 *)ends;
    i32x8 *sn = so + features, *en = eo + features;
    for (int32_t k0 = 0; k0 < features; k0 += MUSE_BV_FIND_GROUP) {
        const int32_t group = features - k0 < MUSE_BV_FIND_GROUP ? features - k0 : MUSE_BV_FIND_GROUP;
        f64x8 v[MUSE_BV_FIND_GROUP];
        i32x8 lo[MUSE_BV_FIND_GROUP];
        int32_t length[MUSE_BV_FIND_GROUP];
        const double *base[MUSE_BV_FIND_GROUP];
        int32_t longest = 0;
        for (int32_t g = 0; g < group; g++) {
            v[g] = ((const f64x8 *)values)[k0 + g];
            base[g] = l->thresholds + l->u_start[k0 + g];
            length[g] = l->u_count[k0 + g];
            lo[g] = 0;
            if (length[g] > longest) longest = length[g];
        }
        while (longest > 1) {
            longest = 0;
            for (int32_t g = 0; g < group; g++) {
                if (length[g] > 1) {
                    int32_t half = length[g] >> 1;
                    i32x8 below = __builtin_convertvector(KFN(gather_f64)(base[g], lo[g] + (half - 1)) < v[g], i32x8);
                    lo[g] += below & half;
                    length[g] -= half;
                }
                if (length[g] > longest) longest = length[g];
            }
        }
        for (int32_t g = 0; g < group; g++) {
            const int32_t k = k0 + g;
            if (length[g] > 0) lo[g] -= __builtin_convertvector(KFN(gather_f64)(base[g], lo[g]) < v[g], i32x8);
            i32x8 at = 2 * (l->cut_start[k] + lo[g]);
            i32x8 nan = __builtin_convertvector(v[g] != v[g], i32x8) & used, number = ~nan & used;
            so[k] = KFN(gather_i32)(l->cuts, at) & number;
            eo[k] = KFN(gather_i32)(l->cuts, at + 1) & number;
            sn[k] = (i32x8)l->nan_start[k] & nan;
            en[k] = (i32x8)l->nan_end[k] & nan;
        }
    }
}

/* ---- ANDs ---- */

/* Entries [from, to) ANDed into the lanes where `skip` is 0 (lanes where it
 * is all ones keep their bits). */
KINLINE void KFN(and_narrow_masked)(const uint64_t *restrict packed, u32x8 *restrict bits,
                                    int32_t from, int32_t to, u32x8 skip) {
    for (int32_t i = from; i < to; i++) {
        uint64_t p = packed[i];
        bits[p >> 32] &= (u32x8)(uint32_t)p | skip;
    }
}

KINLINE void KFN(and_wide_masked)(const int32_t *restrict word, const uint64_t *restrict mask,
                                  u64x8 *restrict bits, int32_t from, int32_t to, u64x8 skip) {
    for (int32_t i = from; i < to; i++) bits[word[i]] &= (u64x8)mask[i] | skip;
}

/* Entries [from, to) ANDed into lane k alone. */
KINLINE void KFN(and_narrow_lane)(const uint64_t *restrict packed, uint32_t *restrict bits,
                                  int32_t from, int32_t to, int k) {
    uint32_t *restrict lane = bits + k;
    for (int32_t i = from; i < to; i++) {
        uint64_t p = packed[i];
        lane[(p >> 32) * 8] &= (uint32_t)p;
    }
}

KINLINE void KFN(and_wide_lane)(const int32_t *restrict word, const uint64_t *restrict mask,
                                uint64_t *restrict bits, int32_t from, int32_t to, int k) {
    uint64_t *restrict lane = bits + k;
    for (int32_t i = from; i < to; i++) lane[(int64_t)word[i] * 8] &= mask[i];
}

/* Entries [from, to) with a lane test per entry: lane k takes entry i when
 * s[k] <= i < e[k], i.e. when i - s[k] < e[k] - s[k] as unsigned numbers
 * (an empty range's length is clamped to 0). The distance i - s is carried
 * from entry to entry, so the test is one add and one compare. */
KINLINE void KFN(and_narrow_ranged)(const uint64_t *restrict packed, u32x8 *restrict bits,
                                    int32_t from, int32_t to, i32x8 s, i32x8 e) {
    u32x8 d = (u32x8)(from - s), len = (u32x8)__builtin_elementwise_max(e - s, (i32x8)0);
    /* An entry's tree is its high half, its mask the low one (little-endian). */
    const uint32_t *halves = (const uint32_t *)packed;
    for (int32_t i = from; i < to; i++) {
        u32x8 skip = (u32x8)(d >= len);
        bits[halves[2 * (int64_t)i + 1]] &= (u32x8)halves[2 * (int64_t)i] | skip;
        d += 1;
    }
}

KINLINE void KFN(and_wide_ranged)(const int32_t *restrict word, const uint64_t *restrict mask,
                                  u64x8 *restrict bits, int32_t from, int32_t to, i32x8 s, i32x8 e) {
    u32x8 d = (u32x8)(from - s), len = (u32x8)__builtin_elementwise_max(e - s, (i32x8)0);
    for (int32_t i = from; i < to; i++) {
        u64x8 skip = (u64x8)__builtin_convertvector((i32x8)(d >= len), i64x8);
        bits[word[i]] &= (u64x8)mask[i] | skip;
        d += 1;
    }
}

/* The same for two blocks at once: each entry is read once for sixteen
 * events. */
KINLINE void KFN(and_narrow_ranged2)(const uint64_t *restrict packed, u32x8 *restrict a, u32x8 *restrict b,
                                     int32_t from, int32_t to, i32x8 sa, i32x8 ea, i32x8 sb, i32x8 eb) {
    u32x8 da = (u32x8)(from - sa), la = (u32x8)__builtin_elementwise_max(ea - sa, (i32x8)0);
    u32x8 db = (u32x8)(from - sb), lb = (u32x8)__builtin_elementwise_max(eb - sb, (i32x8)0);
    const uint32_t *halves = (const uint32_t *)packed;
    for (int32_t i = from; i < to; i++) {
        uint32_t tree = halves[2 * (int64_t)i + 1];
        u32x8 m = (u32x8)halves[2 * (int64_t)i];
        a[tree] &= m | (u32x8)(da >= la);
        b[tree] &= m | (u32x8)(db >= lb);
        da += 1;
        db += 1;
    }
}

KINLINE void KFN(and_wide_ranged2)(const int32_t *restrict word, const uint64_t *restrict mask,
                                   u64x8 *restrict a, u64x8 *restrict b, int32_t from, int32_t to,
                                   i32x8 sa, i32x8 ea, i32x8 sb, i32x8 eb) {
    u32x8 da = (u32x8)(from - sa), la = (u32x8)__builtin_elementwise_max(ea - sa, (i32x8)0);
    u32x8 db = (u32x8)(from - sb), lb = (u32x8)__builtin_elementwise_max(eb - sb, (i32x8)0);
    for (int32_t i = from; i < to; i++) {
        int32_t w = word[i];
        u64x8 m = (u64x8)mask[i];
        a[w] &= m | (u64x8)__builtin_convertvector((i32x8)(da >= la), i64x8);
        b[w] &= m | (u64x8)__builtin_convertvector((i32x8)(db >= lb), i64x8);
        da += 1;
        db += 1;
    }
}

/* Entries [from, to) for the lanes in `take` (all ones): one vector AND for
 * two lanes or more (about as dear as 1.4 single ANDs), else single ANDs. */
KINLINE void KFN(and_piece)(const muse_bv_layout *l, void *bits, int32_t from, int32_t to, i32x8 take) {
    unsigned lanes = KFN(lanes_of)(take);
    if (lanes & (lanes - 1)) {
        if (l->narrow) KFN(and_narrow_masked)(l->packed, bits, from, to, ~(u32x8)take);
        else KFN(and_wide_masked)(l->entry_word, l->entry_mask, bits, from, to,
                                  ~(u64x8)__builtin_convertvector(take, i64x8));
    } else if (lanes) {
        int k = __builtin_ctz(lanes);
        if (l->narrow) KFN(and_narrow_lane)(l->packed, bits, from, to, k);
        else KFN(and_wide_lane)(l->entry_word, l->entry_mask, bits, from, to, k);
    }
}

/* One numeric feature's ranges: one pass over their union, each entry
 * tested per lane (an add and a compare). Applying the union in pieces
 * between the sorted ends, each piece without a lane test, timed no faster
 * once the test cost that little: every piece ends on a mispredicted branch. */
KATTR static void KFN(apply_ordered)(const muse_bv_layout *l, void *bits, i32x8 s, i32x8 e) {
    i32x8 live = s < e;
    unsigned lanes = KFN(lanes_of)(live);
    if (!lanes) return;
    if (!(lanes & (lanes - 1))) {
        int k = __builtin_ctz(lanes);
        KFN(and_piece)(l, bits, s[k], e[k], live);
        return;
    }
    int32_t lo = __builtin_reduce_min(live ? s : INT32_MAX), hi = __builtin_reduce_max(live ? e : INT32_MIN);
    if (l->narrow) KFN(and_narrow_ranged)(l->packed, bits, lo, hi, s, e);
    else KFN(and_wide_ranged)(l->entry_word, l->entry_mask, bits, lo, hi, s, e);
}

/* Every lane's bits set. */
KINLINE void KFN(set_all)(const muse_bv_layout *l, void *bits) {
    if (l->narrow) {
        u32x8 *b = bits;
        for (int32_t w = 0; w < l->word_count; w++) b[w] = (u32x8)~0u;
    } else {
        u64x8 *b = bits;
        for (int32_t w = 0; w < l->word_count; w++) b[w] = (u64x8)~(uint64_t)0;
    }
}

/* NaN and categorical lists: lanes with the same list take it together. */
KINLINE void KFN(apply_scattered)(const muse_bv_layout *l, void *bits, const i32x8 *sv, const i32x8 *ev,
                                  int32_t from, int32_t to) {
    for (int32_t r = from; r < to; r++) {
        i32x8 s = sv[r], e = ev[r];
        unsigned pending = KFN(lanes_of)(s < e);
        while (pending) {
            int k = __builtin_ctz(pending);
            i32x8 same = (s == s[k]) & (e == e[k]);
            pending &= ~KFN(lanes_of)(same);
            KFN(and_piece)(l, bits, s[k], e[k], same);
        }
    }
}

KATTR static void KFN(apply)(const muse_bv_layout *l, void *bits, const int32_t *starts, const int32_t *ends,
                             int32_t ordered, int32_t scattered) {
    KFN(set_all)(l, bits);
    const i32x8 *sv = (const i32x8 *)starts, *ev = (const i32x8 *)ends;
    for (int32_t r = 0; r < ordered; r++) KFN(apply_ordered)(l, bits, sv[r], ev[r]);
    KFN(apply_scattered)(l, bits, sv, ev, ordered, ordered + scattered);
}

/* One numeric feature's ranges in two blocks. Sixteen events' ranges span
 * little more than eight's, so one pass over their union reads each entry
 * once for both blocks. */
KATTR static void KFN(apply_ordered2)(const muse_bv_layout *l, void *a, void *b, i32x8 sa, i32x8 ea,
                                      i32x8 sb, i32x8 eb) {
    i32x8 la = sa < ea, lb = sb < eb;
    int any_a = KFN(lanes_of)(la) != 0, any_b = KFN(lanes_of)(lb) != 0;
    if (!any_a || !any_b) {
        if (any_a) KFN(apply_ordered)(l, a, sa, ea);
        if (any_b) KFN(apply_ordered)(l, b, sb, eb);
        return;
    }
    int32_t lo_a = __builtin_reduce_min(la ? sa : INT32_MAX), lo_b = __builtin_reduce_min(lb ? sb : INT32_MAX);
    int32_t hi_a = __builtin_reduce_max(la ? ea : INT32_MIN), hi_b = __builtin_reduce_max(lb ? eb : INT32_MIN);
    int32_t lo = lo_a < lo_b ? lo_a : lo_b, hi = hi_a > hi_b ? hi_a : hi_b;
    if (l->narrow) KFN(and_narrow_ranged2)(l->packed, a, b, lo, hi, sa, ea, sb, eb);
    else KFN(and_wide_ranged2)(l->entry_word, l->entry_mask, a, b, lo, hi, sa, ea, sb, eb);
}

KATTR static void KFN(apply_pair)(const muse_bv_layout *l, void *a, void *b, const int32_t *starts_a,
                                  const int32_t *ends_a, const int32_t *starts_b, const int32_t *ends_b,
                                  int32_t ordered, int32_t scattered) {
    KFN(set_all)(l, a);
    KFN(set_all)(l, b);
    const i32x8 *sa = (const i32x8 *)starts_a, *ea = (const i32x8 *)ends_a;
    const i32x8 *sb = (const i32x8 *)starts_b, *eb = (const i32x8 *)ends_b;
    for (int32_t r = 0; r < ordered; r++) KFN(apply_ordered2)(l, a, b, sa[r], ea[r], sb[r], eb[r]);
    KFN(apply_scattered)(l, a, sa, ea, ordered, ordered + scattered);
    KFN(apply_scattered)(l, b, sb, eb, ordered, ordered + scattered);
}

/* ---- Sums ---- */

/* Index of each lane's lowest set bit (never all clear: a tree's rightmost
 * leaf is never cleared). */
KINLINE i32x8 KFN(ctz32)(u32x8 w) {
    return (i32x8)__builtin_elementwise_popcount((w - 1) & ~w);
}

KINLINE i64x8 KFN(ctz64)(u64x8 w) {
    return (i64x8)__builtin_elementwise_popcount((w - 1) & ~w);
}

/* Tree t's exit leaf per lane, wide form: the lowest set bit of the
 * tree's first nonzero word, found without a branch per lane (which word
 * it is in is the lane's data, and a branch on it mispredicts). */
KINLINE f64x8 KFN(wide_leaf)(const muse_bv_layout *l, const u64x8 *bits, int32_t t) {
    int32_t first = l->tree_word[t];
    i64x8 leaf = (i64x8)(int64_t)l->tree_leaf[t];
    if (l->max_words_per_tree == 1) return KFN(gather_f64_by64)(l->leaves, leaf + KFN(ctz64)(bits[first]));
    int32_t end = t + 1 < l->tree_count ? l->tree_word[t + 1] : l->word_count;
    i64x8 at = -1;
    for (int32_t w = end - 1; w >= first; w--) {
        u64x8 v = bits[w];
        at = v != 0 ? (int64_t)(w - first) * 64 + KFN(ctz64)(v) : at;
    }
    return KFN(gather_f64_by64)(l->leaves, leaf + at);
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
                ftotal += __builtin_convertvector(KFN(gather_f64)(padded, t * 32 + KFN(ctz32)(b[t])), f32x8);
        } else {
            for (int32_t t = 0; t < trees; t++) total += KFN(gather_f64)(padded, t * 32 + KFN(ctz32)(b[t]));
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

#undef KINLINE

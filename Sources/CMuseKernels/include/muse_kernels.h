/*
 * Batch kernels of the bitvector scorer (MuseScoring's BitvectorScorer):
 * several events scored side by side, one per lane, their leaf bitvectors
 * interleaved so that one vector instruction ANDs a mask into every lane.
 *
 * The kernels know nothing of split rules: the Swift side finds, per event
 * and feature, the range of mask entries to AND (as its single-event path
 * does), and the kernels apply those ranges and sum the exit leaves in the
 * library's precision. Each is compiled for the portable baseline, AVX2 and
 * AVX-512; `level` picks one (never above muse_kernels_best_level()).
 */
#ifndef MUSE_KERNELS_H
#define MUSE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Events per block. */
#define MUSE_BV_LANES 8

/* Kernel variants, in increasing order of what the CPU must have. */
#define MUSE_KERNELS_PORTABLE 0
#define MUSE_KERNELS_AVX2 1
#define MUSE_KERNELS_AVX512 2

/* The best variant this CPU runs (cached after the first call). */
int muse_kernels_best_level(void);

/* The parts of a bitvector layout the kernels read; the arrays belong to
 * the layout (see BitvectorScorer for what each holds).
 * Entries: narrow form, one 32-bit word per tree, entries packed as
 * tree << 32 | mask, 32 padded leaves per tree; wide form, 64-bit words,
 * entries as word and mask, each tree's leaves from tree_leaf[t].
 * Numeric features: feature k's distinct thresholds are
 * thresholds[u_start[k] ..< u_start[k] + u_count[k]], ascending; with j of
 * them below a value, its false splits are entries
 * cuts[2 (cut_start[k] + j)] ..< cuts[2 (cut_start[k] + j) + 1], and a NaN's
 * are nan_start[k] ..< nan_end[k]. */
typedef struct muse_bv_layout {
    const uint64_t *packed;
    const int32_t *entry_word;
    const uint64_t *entry_mask;
    const int32_t *tree_word;
    const int32_t *tree_leaf;
    const double *leaves;
    const double *padded_leaves;
    const int32_t *u_start;
    const int32_t *u_count;
    const int32_t *cut_start;
    const int32_t *nan_start;
    const int32_t *nan_end;
    const double *thresholds;
    const int32_t *cuts;
    int32_t num_features;
    int32_t tree_count;
    int32_t word_count;
    int32_t max_words_per_tree;
    int32_t narrow;
} muse_bv_layout;

/* Bytes of one block's bitvectors: word_count × MUSE_BV_LANES words of 4
 * (narrow) or 8 bytes, word-major (word w of lane k at w × LANES + k). */
size_t muse_bv_block_bytes(const muse_bv_layout *layout);

/* Ranges are given per range r and lane k as starts[r × LANES + k] and
 * ends[r × LANES + k]; a range with start >= end is empty. A block's
 * ranges are, in order: one per numeric feature (its false splits for the
 * lane's value; empty for NaN), one per numeric feature (its NaN list for
 * a NaN, else empty), then any the caller adds (categorical lists). */

/* Fills the first 2 × num_features ranges from the numeric features'
 * values, values[k × LANES + lane] for feature k (in the layout's order);
 * lanes from `lanes` on hold no event, and get empty ranges. */
void muse_bv_find(int level, const muse_bv_layout *layout, const double *values, int32_t lanes, int32_t *starts,
                  int32_t *ends);

/* Sets every lane's bits, then ANDs each lane's ranges into its bits. The
 * first `ordered` ranges are those of numeric features, which overlap from
 * lane to lane: each is applied in one pass over the lanes' union, every
 * entry to the lanes whose range holds it. The `scattered` ranges after
 * them (NaN lists, categorical lists) are applied once per distinct range,
 * to the lanes that share it. `bits` is aligned to 64 bytes. */
void muse_bv_apply(int level, const muse_bv_layout *layout, void *bits, const int32_t *starts,
                   const int32_t *ends, int32_t ordered, int32_t scattered);

/* `muse_bv_apply` for two blocks, `bits_a` with the ranges `starts_a`,
 * `ends_a` and `bits_b` with `starts_b`, `ends_b`: the same bits as two
 * calls, with one pass over a numeric feature's entries for both blocks
 * (sixteen events' ranges span little more than eight's). */
void muse_bv_apply_pair(int level, const muse_bv_layout *layout, void *bits_a, void *bits_b,
                        const int32_t *starts_a, const int32_t *ends_a, const int32_t *starts_b,
                        const int32_t *ends_b, int32_t ordered, int32_t scattered);

/* Each lane's exit leaves summed in tree order: in double from 0
 * (float_sum == 0), or in float from (float)base, then widened; into
 * out[0..<LANES]. */
void muse_bv_sum(int level, const muse_bv_layout *layout, const void *bits, int float_sum, double base,
                 double *out);

#ifdef __cplusplus
}
#endif

#endif

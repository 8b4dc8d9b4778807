#include "muse_kernels.h"

#include <stdatomic.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Only additions of leaf values and a float conversion touch floating
 * point; nothing may be contracted or reordered. */
#pragma clang fp contract(off)

/* Vectors pass between static functions of one variant only, inlined. */
#pragma clang diagnostic ignored "-Wpsabi"

typedef int32_t i32x8 __attribute__((ext_vector_type(8)));
typedef uint32_t u32x8 __attribute__((ext_vector_type(8)));
typedef int64_t i64x8 __attribute__((ext_vector_type(8)));
typedef uint64_t u64x8 __attribute__((ext_vector_type(8)));
typedef double f64x8 __attribute__((ext_vector_type(8)));
typedef double f64x4 __attribute__((ext_vector_type(4)));
typedef float f32x8 __attribute__((ext_vector_type(8)));

_Static_assert(MUSE_BV_LANES == 8, "the kernels are written for eight lanes");

#define KFN(name) name##_portable
#define KATTR
#define KLEVEL MUSE_KERNELS_PORTABLE
#include "bv_kernel_body.h"
#undef KFN
#undef KATTR
#undef KLEVEL

#if defined(__x86_64__)
#define KFN(name) name##_avx2
#define KATTR __attribute__((target("avx2,bmi,bmi2,popcnt")))
#define KLEVEL MUSE_KERNELS_AVX2
#include "bv_kernel_body.h"
#undef KFN
#undef KATTR
#undef KLEVEL

#define KFN(name) name##_avx512
#define KATTR __attribute__((target("avx2,bmi,bmi2,popcnt,avx512f,avx512vl,avx512bw,avx512dq,avx512cd,avx512vpopcntdq")))
#define KLEVEL MUSE_KERNELS_AVX512
#include "bv_kernel_body.h"
#undef KFN
#undef KATTR
#undef KLEVEL
#endif

static int detect_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512cd")
        && __builtin_cpu_supports("avx512vpopcntdq") && __builtin_cpu_supports("avx2")
        && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt"))
        return MUSE_KERNELS_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2")
        && __builtin_cpu_supports("popcnt"))
        return MUSE_KERNELS_AVX2;
#endif
    return MUSE_KERNELS_PORTABLE;
}

int muse_kernels_best_level(void) {
    /* Racing first calls store the same value. */
    static _Atomic int cached = -1;
    int level = atomic_load_explicit(&cached, memory_order_relaxed);
    if (level < 0) {
        level = detect_level();
        atomic_store_explicit(&cached, level, memory_order_relaxed);
    }
    return level;
}

size_t muse_bv_block_bytes(const muse_bv_layout *layout) {
    return (size_t)layout->word_count * MUSE_BV_LANES * (layout->narrow ? 4 : 8);
}

void muse_bv_find(int level, const muse_bv_layout *layout, const double *values, int32_t lanes, int32_t *starts,
                  int32_t *ends) {
#if defined(__x86_64__)
    if (level > muse_kernels_best_level()) level = muse_kernels_best_level();
    if (level == MUSE_KERNELS_AVX512) { find_avx512(layout, values, lanes, starts, ends); return; }
    if (level == MUSE_KERNELS_AVX2) { find_avx2(layout, values, lanes, starts, ends); return; }
#endif
    (void)level;
    find_portable(layout, values, lanes, starts, ends);
}

void muse_bv_apply(int level, const muse_bv_layout *layout, void *bits, const int32_t *starts,
                   const int32_t *ends, int32_t ordered, int32_t scattered) {
#if defined(__x86_64__)
    if (level > muse_kernels_best_level()) level = muse_kernels_best_level();
    if (level == MUSE_KERNELS_AVX512) { apply_avx512(layout, bits, starts, ends, ordered, scattered); return; }
    if (level == MUSE_KERNELS_AVX2) { apply_avx2(layout, bits, starts, ends, ordered, scattered); return; }
#endif
    (void)level;
    apply_portable(layout, bits, starts, ends, ordered, scattered);
}

void muse_bv_apply_pair(int level, const muse_bv_layout *layout, void *bits_a, void *bits_b,
                        const int32_t *starts_a, const int32_t *ends_a, const int32_t *starts_b,
                        const int32_t *ends_b, int32_t ordered, int32_t scattered) {
#if defined(__x86_64__)
    if (level > muse_kernels_best_level()) level = muse_kernels_best_level();
    if (level == MUSE_KERNELS_AVX512) {
        apply_pair_avx512(layout, bits_a, bits_b, starts_a, ends_a, starts_b, ends_b, ordered, scattered);
        return;
    }
    if (level == MUSE_KERNELS_AVX2) {
        apply_pair_avx2(layout, bits_a, bits_b, starts_a, ends_a, starts_b, ends_b, ordered, scattered);
        return;
    }
#endif
    (void)level;
    apply_pair_portable(layout, bits_a, bits_b, starts_a, ends_a, starts_b, ends_b, ordered, scattered);
}

void muse_bv_sum(int level, const muse_bv_layout *layout, const void *bits, int float_sum, double base,
                 double *out) {
#if defined(__x86_64__)
    if (level > muse_kernels_best_level()) level = muse_kernels_best_level();
    if (level == MUSE_KERNELS_AVX512) { sum_avx512(layout, bits, float_sum, base, out); return; }
    if (level == MUSE_KERNELS_AVX2) { sum_avx2(layout, bits, float_sum, base, out); return; }
#endif
    (void)level;
    sum_portable(layout, bits, float_sum, base, out);
}

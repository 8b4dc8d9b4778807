/*
 * libmuse.so: muse.h compiled once with its functions exported, for languages
 * that cannot use a header of static inline functions (Python, Java, Go...).
 * Same functions, same semantics, same structures; symbols are versioned by
 * libmuse.map (MUSE_1.0: the ABI 1.0 functions; MUSE_1.1: those added in ABI
 * 1.1 and the sizeof helpers below; MUSE_1.2: muse_wait_idle, which the header
 * gained after 1.1 without an ABI change and which bindings need to choose an
 * idle policy). A released node never changes; new functions get a new node.
 * Built by tools/build-libmuse.sh.
 */
#define MUSE_BUILD_LIBRARY 1
#include "muse.h"

/* For bindings that allocate muse.h's structures themselves (ctypes, Java
 * FFM): their sizes and alignment in this build. */
MUSE_API size_t muse_sizeof_client(void);
MUSE_API size_t muse_sizeof_channel(void);
MUSE_API size_t muse_sizeof_client(void) { return sizeof(muse_client); }
MUSE_API size_t muse_sizeof_channel(void) { return sizeof(muse_channel); }

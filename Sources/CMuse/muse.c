/* muse.h is header-only; this file makes it a compilable target that Swift
 * (the daemon's MuseIPC, the MuseClient library) imports. */
#include "muse.h"

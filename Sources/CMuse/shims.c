#include "muse.h"

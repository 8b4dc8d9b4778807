/* liblz4's frame API (the format `lz4` the tool reads and writes). */
#include <lz4frame.h>
#include <lz4.h>

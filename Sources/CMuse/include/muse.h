#ifndef MUSE_H
#define MUSE_H
#endif

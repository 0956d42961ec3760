/* The internal umbrella header: the public API (include/quanta/quanta.h,
 * reached with #include_next, since this file shadows it on the library's
 * own include path -Isrc/include -Iinclude) plus the library's internal
 * headers. Only the library, the CLI and the tests include it. */
#ifndef QUANTA_H
#define QUANTA_H

#include_next "quanta/quanta.h"
#include "quanta/status.h"
#include "quanta/dtype.h"
#include "quanta/safetensors.h"
#include "quanta/safe_file.h"
#include "quanta/data.h"
#include "quanta/graph.h"
#include "quanta/runtime.h"
#include "quanta/feed.h"

#endif

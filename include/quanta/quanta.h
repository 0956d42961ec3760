/* quanta: command-line model quantization. Umbrella header for libquanta. */
#ifndef QUANTA_H
#define QUANTA_H

#define QUANTA_VERSION "0.1.0"

#include "quanta/status.h"
#include "quanta/dtype.h"
#include "quanta/safetensors.h"
#include "quanta/safe_file.h"
#include "quanta/data.h"
#include "quanta/graph.h"
#include "quanta/runtime.h"
#include "quanta/feed.h"

#endif

/*
 * <regio.h>: the umbrella header of regio, the I/O layer of a storage engine.
 * Include this, link regio::regio (CMake) or `pkg-config --libs regio`.
 */
#ifndef REGIO_H
#define REGIO_H

#include "regio/common.h"
#include "regio/arena.h"
#include "regio/iobuf.h"
#include "regio/engine.h"
#include "regio/pager.h"
#include "regio/wal.h"

#endif

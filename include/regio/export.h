/* regio/export.h: symbol visibility. The shared library is built with
 * hidden visibility; only declarations marked REGIO_API are exported. */
#ifndef REGIO_EXPORT_H
#define REGIO_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define REGIO_API __attribute__((visibility("default")))
#else
#define REGIO_API
#endif

#endif

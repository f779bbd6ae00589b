/* regio-test: labels=mt,io,long timeout=3600 */
/* tests/test_wal_crash_long.c: the power-loss test with 10,000 crash states. */
#define CRASH_TRIALS 10000
#include "test_wal_crash.c"

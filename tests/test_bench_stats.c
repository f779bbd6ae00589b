/* regio-test: labels=unit timeout=30 */
/*
 * tests/test_bench_stats.c: regio-bench's round control (tools/bench/stats.c,
 * built in here). Several comparisons often share one loop of rounds that
 * asks bench_pair_more of one of them; a baseline that measured nothing in a
 * round (fio reporting 0 reads under load in a CI run) then left its row
 * with two paired rounds of three, and test_tool_bench failed on it.
 * bench_pairs_short says such a row needs another round, and stops asking
 * once the row is paired or no baseline was ever measured.
 */
#include "check.h"

#include "../tools/bench/stats.c"

static struct bench_trial trial(double v)
{
    return (struct bench_trial){v, 100.0};
}

int main(void)
{
    struct bench_ctx ctx = {.seconds = 0.1, .rounds = 3, .max_rounds = 3};
    static struct bench_pair p[2];
    memset(p, 0, sizeof(p));
    /* Three rounds; the second comparison's baseline measured 0 in one. */
    double base[3] = {100.0, 0.0, 110.0};
    for (int i = 0; i < 3; i++) {
        bench_pair_add(&p[0], trial(90.0 + i), trial(100.0 + i));
        bench_pair_add(&p[1], trial(90.0 + i), trial(base[i]));
    }
    CHECK(!bench_pair_more(&ctx, &p[0], true)); /* the loop's own comparison is done */
    CHECK(bench_pairs_short(&ctx, p, 2));       /* the other is two rounds short of three */
    bench_pair_add(&p[0], trial(93.0), trial(103.0));
    bench_pair_add(&p[1], trial(93.0), trial(104.0));
    CHECK(!bench_pairs_short(&ctx, p, 2)); /* three paired now */

    /* A baseline never measured (not installed): more rounds cannot help. */
    static struct bench_pair none;
    memset(&none, 0, sizeof(none));
    for (int i = 0; i < 3; i++)
        bench_pair_add(&none, trial(90.0), trial(NAN));
    CHECK(!bench_pairs_short(&ctx, &none, 1));

    /* Short for ever: replacement rounds end at max_rounds + rounds. */
    static struct bench_pair starved;
    memset(&starved, 0, sizeof(starved));
    bench_pair_add(&starved, trial(90.0), trial(100.0));
    int n = 1;
    while (bench_pairs_short(&ctx, &starved, 1) || starved.n < ctx.rounds) {
        bench_pair_add(&starved, trial(90.0), trial(0.0));
        n++;
        CHECK(n <= BENCH_MAX_ROUNDS);
    }
    CHECK_EQ(starved.n, ctx.max_rounds + ctx.rounds);
    printf("bench_stats: ok\n");
    return 0;
}

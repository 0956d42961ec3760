/* int8 max/avg pools, global average pool and mean against the float
 * operators on dequantized inputs (bound: 1/2 step + 2^-29 relative), plus
 * hand-computed rounding and padding cases. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels_q8.h"
#include "kernels/q8_testing.h"
#include "runtime/q8_params.h"
#include "kernels/requant.h"

/* Random input in dtype, int8-domain copy for the kernel, and reals. */
static void random_input(struct tq_rng *r, int64_t n, enum quanta_dtype dt, float *sx, int32_t *zx,
                         int8_t *x8, double *xr)
{
    const int u8 = dt == QUANTA_U8;
    *sx = (float)tq_uniform(r, 0.01, 0.1);
    *zx = (int32_t)(u8 ? tq_int(r, 0, 255) : tq_int(r, -128, 127));
    for (int64_t i = 0; i < n; i++) {
        const int32_t q = (int32_t)(u8 ? tq_int(r, 0, 255) : tq_int(r, -128, 127));
        x8[i] = (int8_t)(u8 ? q - 128 : q);
        xr[i] = (double)*sx * (q - *zx);
    }
}

/* Output params: the input's (identity requant) half of the time. */
static void pick_out(struct tq_rng *r, const double *yr, int64_t n, enum quanta_dtype in_dt,
                     float sx, int32_t zx, enum quanta_dtype *dt, float *sy, int32_t *zy)
{
    if (tq_int(r, 0, 1)) {
        *dt = in_dt;
        *sy = sx;
        *zy = zx;
        return;
    }
    double lo = 0, hi = 0;
    for (int64_t i = 0; i < n; i++) {
        lo = fmin(lo, yr[i]);
        hi = fmax(hi, yr[i]);
    }
    *dt = tq_int(r, 0, 1) ? QUANTA_U8 : QUANTA_I8;
    tq_choose_out(lo, hi, *dt, sy, zy);
}

static void check_out(const int8_t *y8, const double *yr, int64_t n, enum quanta_dtype dt, float sy,
                      int32_t zy, const char *what)
{
    const int u8 = dt == QUANTA_U8;
    const int32_t qlo = u8 ? 0 : -128;
    for (int64_t i = 0; i < n; i++) {
        const int32_t q = u8 ? y8[i] + 128 : y8[i];
        const double ideal = tq_ideal(yr[i], sy, zy, qlo, qlo + 255);
        TQ_CHECK(q, ideal, tq_bound1(ideal, zy), what, i);
    }
}

static void run_pool(struct tq_rng *r, int is_max)
{
    struct q8_pool2d_shape s;
    int pb, pr;
    do {
        s.batch = tq_int(r, 1, 2);
        s.in_h = (int)tq_int(r, 1, 8);
        s.in_w = (int)tq_int(r, 1, 8);
        s.c = (int)tq_int(r, 1, 4);
        s.kernel_h = (int)tq_int(r, 1, 3);
        s.kernel_w = (int)tq_int(r, 1, 3);
        s.stride_h = (int)tq_int(r, 1, 3);
        s.stride_w = (int)tq_int(r, 1, 3);
        s.pad_top = (int)tq_int(r, 0, s.kernel_h - 1);
        s.pad_left = (int)tq_int(r, 0, s.kernel_w - 1);
        pb = (int)tq_int(r, 0, s.kernel_h - 1);
        pr = (int)tq_int(r, 0, s.kernel_w - 1);
        s.out_h = (s.in_h + s.pad_top + pb - s.kernel_h) / s.stride_h + 1;
        s.out_w = (s.in_w + s.pad_left + pr - s.kernel_w) / s.stride_w + 1;
    } while (s.in_h + s.pad_top + pb < s.kernel_h || s.in_w + s.pad_left + pr < s.kernel_w);
    const int64_t nx = s.batch * s.in_h * s.in_w * s.c, ny = s.batch * s.out_h * s.out_w * s.c;
    int8_t *x8 = malloc(nx), *y8 = malloc(ny);
    double *xr = malloc(sizeof(double) * nx), *yr = malloc(sizeof(double) * ny);
    const enum quanta_dtype in_dt = tq_int(r, 0, 1) ? QUANTA_U8 : QUANTA_I8;
    float sx, sy;
    int32_t zx, zy;
    random_input(r, nx, in_dt, &sx, &zx, x8, xr);
    for (int64_t b = 0; b < s.batch; b++)
        for (int oy = 0; oy < s.out_h; oy++)
            for (int ox = 0; ox < s.out_w; ox++)
                for (int c = 0; c < s.c; c++) {
                    double acc = is_max ? -INFINITY : 0;
                    int n = 0;
                    for (int ky = 0; ky < s.kernel_h; ky++)
                        for (int kx = 0; kx < s.kernel_w; kx++) {
                            const int iy = oy * s.stride_h - s.pad_top + ky;
                            const int ix = ox * s.stride_w - s.pad_left + kx;
                            if (iy < 0 || ix < 0 || iy >= s.in_h || ix >= s.in_w)
                                continue;
                            const double v = xr[((b * s.in_h + iy) * s.in_w + ix) * s.c + c];
                            acc = is_max ? fmax(acc, v) : acc + v;
                            n++;
                        }
                    ck_assert_int_gt(n, 0);
                    yr[((b * s.out_h + oy) * s.out_w + ox) * s.c + c] = is_max ? acc : acc / n;
                }
    enum quanta_dtype out_dt;
    pick_out(r, yr, ny, in_dt, sx, zx, &out_dt, &sy, &zy);
    struct graph_quant qx, qy;
    tq_set(&qx, in_dt, sx, zx);
    tq_set(&qy, out_dt, sy, zy);
    struct q8_unary p;
    struct quanta_error err = {0};
    ck_assert_msg(q8_unary_prepare(&qx, &qy, GRAPH_ACT_NONE, &p, "pool", &err) == QUANTA_OK, "%s",
                  err.message);
    if (is_max)
        q8_max_pool2d__ref(&s, &p, x8, y8);
    else
        q8_avg_pool2d__ref(&s, &p, x8, y8);
    check_out(y8, yr, ny, out_dt, sy, zy, is_max ? "max_pool2d" : "avg_pool2d");
    free(x8), free(y8), free(xr), free(yr);
}

START_TEST(max_pool_random_against_float)
{
    struct tq_rng r = {5};
    for (int i = 0; i < 300; i++)
        run_pool(&r, 1);
}
END_TEST

START_TEST(avg_pool_random_against_float)
{
    struct tq_rng r = {6};
    for (int i = 0; i < 300; i++)
        run_pool(&r, 0);
}
END_TEST

START_TEST(global_avg_pool_random_against_float)
{
    struct tq_rng r = {7};
    for (int t = 0; t < 200; t++) {
        const int64_t batch = tq_int(&r, 1, 3), hw = tq_int(&r, 1, 60);
        const int c = (int)tq_int(&r, 1, 5);
        const int64_t nx = batch * hw * c, ny = batch * c;
        int8_t *x8 = malloc(nx), *y8 = malloc(ny);
        double *xr = malloc(sizeof(double) * nx), *yr = calloc(ny, sizeof(double));
        const enum quanta_dtype in_dt = tq_int(&r, 0, 1) ? QUANTA_U8 : QUANTA_I8;
        float sx, sy;
        int32_t zx, zy;
        random_input(&r, nx, in_dt, &sx, &zx, x8, xr);
        for (int64_t b = 0; b < batch; b++)
            for (int64_t i = 0; i < hw; i++)
                for (int ch = 0; ch < c; ch++)
                    yr[b * c + ch] += xr[(b * hw + i) * c + ch] / (double)hw;
        enum quanta_dtype out_dt;
        pick_out(&r, yr, ny, in_dt, sx, zx, &out_dt, &sy, &zy);
        struct graph_quant qx, qy;
        tq_set(&qx, in_dt, sx, zx);
        tq_set(&qy, out_dt, sy, zy);
        struct q8_unary p;
        struct quanta_error err = {0};
        ck_assert(q8_unary_prepare(&qx, &qy, GRAPH_ACT_NONE, &p, "gap", &err) == QUANTA_OK);
        q8_global_avg_pool__ref(batch, hw, c, &p, x8, y8);
        check_out(y8, yr, ny, out_dt, sy, zy, "global_avg_pool");
        free(x8), free(y8), free(xr), free(yr);
    }
}
END_TEST

START_TEST(mean_random_against_float)
{
    struct tq_rng r = {8};
    for (int t = 0; t < 300; t++) {
        const int rank = (int)tq_int(&r, 1, 4);
        int64_t dims[4];
        int64_t nx = 1;
        for (int a = 0; a < rank; a++) {
            dims[a] = tq_int(&r, 1, 5);
            nx *= dims[a];
        }
        unsigned mask;
        do
            mask = (unsigned)tq_int(&r, 1, (1 << rank) - 1);
        while (!mask);
        int64_t ny = 1, n = 1;
        for (int a = 0; a < rank; a++) {
            if (mask & (1u << a))
                n *= dims[a];
            else
                ny *= dims[a];
        }
        int8_t *x8 = malloc(nx), *y8 = malloc(ny);
        double *xr = malloc(sizeof(double) * nx), *yr = calloc(ny, sizeof(double));
        const enum quanta_dtype in_dt = tq_int(&r, 0, 1) ? QUANTA_U8 : QUANTA_I8;
        float sx, sy;
        int32_t zx, zy;
        random_input(&r, nx, in_dt, &sx, &zx, x8, xr);
        /* independent indexing: decompose each flat input index */
        for (int64_t i = 0; i < nx; i++) {
            int64_t rest = i, out = 0, mul = 1;
            for (int a = rank - 1; a >= 0; a--) {
                const int64_t coord = rest % dims[a];
                rest /= dims[a];
                if (!(mask & (1u << a))) {
                    out += coord * mul;
                    mul *= dims[a];
                }
            }
            yr[out] += xr[i] / (double)n;
        }
        enum quanta_dtype out_dt;
        pick_out(&r, yr, ny, in_dt, sx, zx, &out_dt, &sy, &zy);
        struct graph_quant qx, qy;
        tq_set(&qx, in_dt, sx, zx);
        tq_set(&qy, out_dt, sy, zy);
        struct q8_unary p;
        struct quanta_error err = {0};
        ck_assert(q8_unary_prepare(&qx, &qy, GRAPH_ACT_NONE, &p, "mean", &err) == QUANTA_OK);
        q8_mean__ref(rank, dims, mask, &p, x8, y8);
        check_out(y8, yr, ny, out_dt, sy, zy, "mean");
        free(x8), free(y8), free(xr), free(yr);
    }
}
END_TEST

static const struct q8_unary identity = {0, 0, INT32_C(1) << 30, -1, -128, 127};

START_TEST(avg_pool_rounding_and_padding_exact)
{
    /* one 2x2 window, 3 channels: sums 11, 10, -10 over 4 cells:
     * 2.75 -> 3, 2.5 -> 3 (tie away), -2.5 -> -3 */
    const int8_t x[12] = {1, 1, -1, 2, 2, -2, 3, 2, -2, 5, 5, -5};
    const struct q8_pool2d_shape s = {1, 2, 2, 3, 1, 1, 2, 2, 2, 2, 0, 0};
    int8_t y[3];
    q8_avg_pool2d__ref(&s, &identity, x, y);
    ck_assert_int_eq(y[0], 3);
    ck_assert_int_eq(y[1], 3);
    ck_assert_int_eq(y[2], -3);
    /* padding not counted: 3x3 input 1..9, kernel 2, stride 2, pad top/left 1:
     * windows (0,0) = {1}, (0,1) = {2,3} -> 2.5 -> 3, (1,0) = {4,7} -> 5.5 -> 6,
     * (1,1) = {5,6,8,9} -> 7 */
    const int8_t x2[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const struct q8_pool2d_shape s2 = {1, 3, 3, 1, 2, 2, 2, 2, 2, 2, 1, 1};
    int8_t y2[4];
    q8_avg_pool2d__ref(&s2, &identity, x2, y2);
    ck_assert_int_eq(y2[0], 1);
    ck_assert_int_eq(y2[1], 3);
    ck_assert_int_eq(y2[2], 6);
    ck_assert_int_eq(y2[3], 7);
    q8_max_pool2d__ref(&s2, &identity, x2, y2);
    ck_assert_int_eq(y2[0], 1);
    ck_assert_int_eq(y2[1], 3);
    ck_assert_int_eq(y2[2], 7);
    ck_assert_int_eq(y2[3], 9);
    /* zero points: zx = -10, zy = 20, m = 1/2: max of all -128 -> d = -118 -> -59 + 20 */
    const int8_t xn[4] = {-128, -128, -128, -128};
    const struct q8_unary half = {-10, 20, INT32_C(1) << 30, 0, -128, 127};
    const struct q8_pool2d_shape s3 = {1, 2, 2, 1, 1, 1, 2, 2, 2, 2, 0, 0};
    q8_max_pool2d__ref(&s3, &half, xn, y);
    ck_assert_int_eq(y[0], -39);
    q8_avg_pool2d__ref(&s3, &half, xn, y);
    ck_assert_int_eq(y[0], -39);
}
END_TEST

START_TEST(global_avg_and_mean_exact)
{
    /* [1, 3, 2]: channel 0 = {1, 2, 4} -> 7/3 -> 2, channel 1 = {-1, -1, -2} -> -4/3 -> -1 */
    const int8_t x[6] = {1, -1, 2, -1, 4, -2};
    int8_t y[2];
    q8_global_avg_pool__ref(1, 3, 2, &identity, x, y);
    ck_assert_int_eq(y[0], 2);
    ck_assert_int_eq(y[1], -1);
    /* mean over axis 0 of [[1, 2], [2, 5]] -> [1.5 -> 2, 3.5 -> 4]; over axis 1 -> [1.5, 3.5] too
     * (rows [1, 2] -> 2, [2, 5] -> 4); over both -> 10/4 = 2.5 -> 3 */
    const int8_t m[4] = {1, 2, 2, 5};
    const int64_t dims[2] = {2, 2};
    q8_mean__ref(2, dims, 1u, &identity, m, y);
    ck_assert_int_eq(y[0], 2);
    ck_assert_int_eq(y[1], 4);
    q8_mean__ref(2, dims, 2u, &identity, m, y);
    ck_assert_int_eq(y[0], 2);
    ck_assert_int_eq(y[1], 4);
    q8_mean__ref(2, dims, 3u, &identity, m, y);
    ck_assert_int_eq(y[0], 3);
    /* saturation: mean of 127s rescaled by 2 saturates */
    const int8_t big[2] = {127, 127};
    const struct q8_unary twice = {0, 0, INT32_C(1) << 30, -2, -128, 127};
    q8_mean__ref(1, (const int64_t[]){2}, 1u, &twice, big, y);
    ck_assert_int_eq(y[0], 127);
}
END_TEST

Suite *suite_q8_pool(void); /* called by tests/main.c */
Suite *suite_q8_pool(void)
{
    Suite *s = suite_create("q8_pool");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, max_pool_random_against_float);
    tcase_add_test(tc, avg_pool_random_against_float);
    tcase_add_test(tc, global_avg_pool_random_against_float);
    tcase_add_test(tc, mean_random_against_float);
    tcase_add_test(tc, avg_pool_rounding_and_padding_exact);
    tcase_add_test(tc, global_avg_and_mean_exact);
    suite_add_tcase(s, tc);
    return s;
}

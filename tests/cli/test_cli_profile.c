/* quanta profile, end to end: every node once, in graph order, with its op
 * and kind (float, or int8 in a quantized copy); shares that sum to one;
 * per-operator rows that add up to the nodes; --top; errors. Then quanta
 * bench --profile: a float model and its int8 copy side by side, nodes
 * paired by name, blanks for the nodes of one side only. No timing
 * assertions: only relations that hold whatever the machine's speed. */
#include "cli/cli_fixture.h"

struct profile_fx {
    char *model, *images, *q;
    struct cf_weights w;
};

static void fx_init(struct profile_fx *f)
{
    memset(f, 0, sizeof *f);
    f->model = cf_tmp("profile.safetensors");
    f->images = cf_tmp("profile-images-idx3-ubyte");
    f->q = cf_tmp("profile-int8.safetensors");
    cf_default_weights(&f->w);
    cf_write_model(f->model, &f->w, true);
    cf_write_images(f->images);
}

static void fx_free(struct profile_fx *f)
{
    free(f->model);
    free(f->images);
    free(f->q);
}

/* The JSON of one profile, checked against the model's own graph. */
static void check_profile(const char *model, bool want_int8_dense)
{
    cJSON *inspect = cf_run_json(cf_args("inspect %s --json", model), 0);
    const cJSON *gnodes = cJSON_GetObjectItem(cJSON_GetObjectItem(inspect, "graph"), "nodes");
    ck_assert_ptr_nonnull(gnodes);
    cJSON *doc = cf_run_json(cf_args("profile %s --iters 5 --warmup 1 --batch 3 --json", model),
                             0);
    ck_assert_int_eq((int)cf_num(doc, "batch"), 3);
    ck_assert_int_eq((int)cf_num(doc, "iters"), 5);
    ck_assert(cf_num(doc, "median_run_ms") > 0);
    const cJSON *nodes = cJSON_GetObjectItem(doc, "nodes");
    ck_assert_int_eq(cJSON_GetArraySize(nodes), cJSON_GetArraySize(gnodes));
    double share = 0, sum_ms = 0;
    bool saw_int8_dense = false;
    for (int i = 0; i < cJSON_GetArraySize(nodes); i++) {
        const cJSON *n = cJSON_GetArrayItem(nodes, i), *g = cJSON_GetArrayItem(gnodes, i);
        ck_assert_str_eq(cJSON_GetObjectItem(n, "node")->valuestring,
                         cJSON_GetObjectItem(g, "name")->valuestring);
        ck_assert_str_eq(cJSON_GetObjectItem(n, "op")->valuestring,
                         cJSON_GetObjectItem(g, "op")->valuestring);
        ck_assert(cf_num(n, "median_ms") >= 0);
        share += cf_num(n, "share");
        sum_ms += cf_num(n, "median_ms");
        if (!strcmp(cJSON_GetObjectItem(n, "op")->valuestring, "dense") &&
            cJSON_IsTrue(cJSON_GetObjectItem(n, "int8")))
            saw_int8_dense = true;
    }
    ck_assert_msg(fabs(share - 1) < 1e-9, "shares sum to %.12g", share);
    ck_assert(fabs(sum_ms - cf_num(doc, "node_sum_ms")) <= 1e-9 * (1 + sum_ms));
    ck_assert_int_eq(saw_int8_dense, want_int8_dense);
    /* the operator rows partition the nodes */
    const cJSON *ops = cJSON_GetObjectItem(doc, "ops");
    int counted = 0;
    double ops_ms = 0;
    for (int k = 0; k < cJSON_GetArraySize(ops); k++) {
        counted += (int)cf_num(cJSON_GetArrayItem(ops, k), "nodes");
        ops_ms += cf_num(cJSON_GetArrayItem(ops, k), "median_ms");
    }
    ck_assert_int_eq(counted, cJSON_GetArraySize(nodes));
    ck_assert(fabs(ops_ms - sum_ms) <= 1e-9 * (1 + sum_ms));
    cJSON_Delete(doc);
    cJSON_Delete(inspect);
}

START_TEST(test_profile_float_and_int8)
{
    struct profile_fx f;
    fx_init(&f);
    check_profile(f.model, false);
    char *out = NULL, *err = NULL;
    int rc = ts_run_quanta(cf_args("quantize %s --data %s -o %s", f.model, f.images, f.q), NULL,
                           &err);
    ck_assert_msg(rc == 0, "quantize: %s", err);
    free(err);
    check_profile(f.q, true);
    /* the table: --top 1 lists one node and says how many more */
    rc = ts_run_quanta(cf_args("profile %s --iters 2 --top 1", f.q), &out, NULL);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strstr(out, "more nodes: --top 0 lists them all") &&
                      strstr(out, "per operator:"),
                  "%s", out);
    free(out);
    fx_free(&f);
}
END_TEST

/* Operations per sample of the cli_fixture model: flatten 0, fc1 dense
 * 4 -> 4 (relu fused) 2*4*4 = 32, fc2 dense 4 -> 3 2*4*3 = 24; the int8
 * copy's quantize/dequantize nodes count 0. */
#define TINY_OPS 56.0

static bool near(double a, double b)
{
    return fabs(a - b) <= 1e-9 * (1 + fabs(a) + fabs(b));
}

/* The node names of a model's graph in order (inspect --json). */
static int graph_nodes_as(const char *model, const char *how, char names[][64], char ops[][32],
                          int max)
{
    cJSON *doc = cf_run_json(cf_args("inspect %s --json%s", model, how), 0);
    const cJSON *nodes = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "graph"), "nodes");
    int n = cJSON_GetArraySize(nodes);
    ck_assert(n > 0 && n <= max);
    for (int i = 0; i < n; i++) {
        const cJSON *nd = cJSON_GetArrayItem(nodes, i);
        snprintf(names[i], 64, "%s", cJSON_GetObjectItem(nd, "name")->valuestring);
        snprintf(ops[i], 32, "%s", cJSON_GetObjectItem(nd, "op")->valuestring);
    }
    cJSON_Delete(doc);
    return n;
}

static int graph_nodes(const char *model, char names[][64], char ops[][32], int max)
{
    return graph_nodes_as(model, "", names, ops, max);
}

static int find_name(char names[][64], int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return i;
    return -1;
}

/* One "profile" entry of two models: each side's nodes are its graph's,
 * in order; a node of both graphs has both sides, one of one graph a null
 * on the other; shares sum to one per side, the times to node_sum_ms, the
 * operations to want_ops[side] x batch; the speed-ups are the ratios. The
 * int8 model is side int8_side. */
static void check_pair(const cJSON *entry, char names[2][16][64], char ops[2][16][32],
                       const int *n, int64_t batch, int int8_side, const double *want_ops)
{
    ck_assert_int_eq((int)cf_num(entry, "batch"), (int)batch);
    const cJSON *nodes = cJSON_GetObjectItem(entry, "nodes");
    const cJSON *sums = cJSON_GetObjectItem(entry, "node_sum_ms");
    ck_assert_int_eq(cJSON_GetArraySize(sums), 2);
    int seen[2] = {0, 0};
    double share[2] = {0, 0}, ms[2] = {0, 0}, op_count[2] = {0, 0};
    int one_sided = 0;
    for (int l = 0; l < cJSON_GetArraySize(nodes); l++) {
        const cJSON *line = cJSON_GetArrayItem(nodes, l);
        const char *name = cJSON_GetObjectItem(line, "node")->valuestring;
        const cJSON *sides = cJSON_GetObjectItem(line, "models");
        ck_assert_int_eq(cJSON_GetArraySize(sides), 2);
        int in[2];
        for (int k = 0; k < 2; k++) {
            in[k] = find_name(names[k], n[k], name);
            const cJSON *side = cJSON_GetArrayItem(sides, k);
            ck_assert_msg((in[k] >= 0) == !cJSON_IsNull(side), "node '%s' side %d", name, k);
            if (in[k] < 0)
                continue;
            ck_assert_int_eq(in[k], seen[k]++); /* graph order */
            ck_assert_str_eq(cJSON_GetObjectItem(side, "op")->valuestring, ops[k][in[k]]);
            const char *precision = cJSON_GetObjectItem(side, "precision")->valuestring;
            if (k != int8_side)
                ck_assert_str_eq(precision, "float");
            else if (!strcmp(ops[k][in[k]], "dense"))
                ck_assert_str_eq(precision, "int8");
            share[k] += cf_num(side, "share");
            ms[k] += cf_num(side, "median_ms");
            op_count[k] += cf_num(side, "ops");
            if (cf_num(side, "median_ms") > 0)
                ck_assert(near(cf_num(side, "gops"),
                               cf_num(side, "ops") / cf_num(side, "median_ms") * 1e-6));
        }
        const cJSON *speedup = cJSON_GetObjectItem(line, "speedup");
        if (in[0] >= 0 && in[1] >= 0) {
            const cJSON *a = cJSON_GetArrayItem(sides, 0), *b = cJSON_GetArrayItem(sides, 1);
            if (cf_num(b, "median_ms") > 0)
                ck_assert(near(cf_num(line, "speedup"),
                               cf_num(a, "median_ms") / cf_num(b, "median_ms")));
        } else {
            one_sided++;
            ck_assert(cJSON_IsNull(speedup));
        }
    }
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(seen[k], n[k]);
        ck_assert_msg(fabs(share[k] - 1) < 1e-9, "side %d shares sum to %.12g", k, share[k]);
        ck_assert(near(ms[k], cJSON_GetArrayItem(sums, k)->valuedouble));
        ck_assert_msg(near(op_count[k], want_ops[k] * (double)batch), "side %d: %g operations",
                      k, op_count[k]);
    }
    ck_assert_msg(one_sided > 0, "the int8 copy's quantize node has no float side");
    ck_assert(near(cf_num(entry, "speedup"), cJSON_GetArrayItem(sums, 0)->valuedouble /
                                                 cJSON_GetArrayItem(sums, 1)->valuedouble));
}

START_TEST(test_bench_profile_side_by_side)
{
    struct profile_fx f;
    fx_init(&f);
    char *err = NULL;
    int rc = ts_run_quanta(cf_args("quantize %s --data %s -o %s", f.model, f.images, f.q), NULL,
                           &err);
    ck_assert_msg(rc == 0, "quantize: %s", err);
    free(err);
    static char names[2][16][64], ops[2][16][32];
    int n[2] = {graph_nodes(f.model, names[0], ops[0], 16),
                graph_nodes(f.q, names[1], ops[1], 16)};
    cJSON *doc = cf_run_json(
        cf_args("bench %s %s --profile --json --batch 1,3 --iters 3 --warmup 1", f.model, f.q),
        0);
    const cJSON *profile = cJSON_GetObjectItem(doc, "profile");
    ck_assert_int_eq(cJSON_GetArraySize(profile), 2); /* one per batch size */
    static const double tiny_ops[2] = {TINY_OPS, TINY_OPS};
    check_pair(cJSON_GetArrayItem(profile, 0), names, ops, n, 1, 1, tiny_ops);
    check_pair(cJSON_GetArrayItem(profile, 1), names, ops, n, 3, 1, tiny_ops);
    cJSON_Delete(doc);
    fx_free(&f);
}
END_TEST

/* The cli_fixture model with its relu replaced by a sigmoid node of its
 * own, "act": the float runner fuses it into fc1 (inspect --optimized), the
 * int8 copy keeps it (only relu and relu6 fuse in int8), so the int8 side
 * has a node in the middle that the float side lacks, and the float side
 * counts 56 operations per sample, the int8 side 56 + 4 (the sigmoid on
 * fc1's 4 outputs). */
#define SIGMOID_GRAPH                                                                       \
    "{\"format\": \"quanta.graph\", \"version\": 1, \"name\": \"sig\", "                    \
    "\"inputs\": [{\"name\": \"image\", \"shape\": [-1, 2, 2, 1], \"dtype\": \"F32\"}], "   \
    "\"outputs\": [\"logits\"], \"nodes\": ["                                               \
    "{\"op\": \"flatten\", \"name\": \"flat\", \"inputs\": [\"image\"], "                   \
    "\"outputs\": [\"flat.out\"]}, "                                                        \
    "{\"op\": \"dense\", \"name\": \"fc1\", \"inputs\": [\"flat.out\", \"fc1.weight\", "    \
    "\"fc1.bias\"], \"outputs\": [\"fc1.out\"]}, "                                          \
    "{\"op\": \"sigmoid\", \"name\": \"act\", \"inputs\": [\"fc1.out\"], "                  \
    "\"outputs\": [\"act.out\"]}, "                                                         \
    "{\"op\": \"dense\", \"name\": \"fc2\", \"inputs\": [\"act.out\", \"fc2.weight\", "     \
    "\"fc2.bias\"], \"outputs\": [\"logits\"]}]}"

START_TEST(test_bench_profile_fused)
{
    struct profile_fx f;
    fx_init(&f);
    struct st_tensor_desc t[4] = {
        {"fc1.weight", QUANTA_F32, {2, {4, 4}}, f.w.w1},
        {"fc1.bias", QUANTA_F32, {1, {4}}, f.w.b1},
        {"fc2.weight", QUANTA_F32, {2, {CF_CLASSES, 4}}, f.w.w2},
        {"fc2.bias", QUANTA_F32, {1, {CF_CLASSES}}, f.w.b2},
    };
    struct st_meta meta[1] = {{"quanta.graph", SIGMOID_GRAPH}};
    struct quanta_error e;
    quanta_error_clear(&e);
    ck_assert_msg(st_write_file(f.model, t, 4, meta, 1, &e) == QUANTA_OK, "%s", e.message);
    char *err = NULL;
    int rc = ts_run_quanta(cf_args("quantize %s --data %s -o %s", f.model, f.images, f.q), NULL,
                           &err);
    ck_assert_msg(rc == 0, "quantize: %s", err);
    free(err);
    /* both orders: the int8 model's own nodes on the second side, then on the first */
    for (int int8_side = 1; int8_side >= 0; int8_side--) {
        const char *model[2] = {int8_side ? f.model : f.q, int8_side ? f.q : f.model};
        static char names[2][16][64], ops[2][16][32];
        int n[2];
        for (int k = 0; k < 2; k++)
            n[k] = graph_nodes_as(model[k], " --optimized", names[k], ops[k], 16);
        ck_assert_int_lt(find_name(names[1 - int8_side], n[1 - int8_side], "act"), 0);
        ck_assert_int_ge(find_name(names[int8_side], n[int8_side], "act"), 0);
        cJSON *doc = cf_run_json(cf_args("bench %s %s --profile --json --batch 2 --iters 2 "
                                         "--warmup 0", model[0], model[1]), 0);
        double want_ops[2];
        want_ops[int8_side] = TINY_OPS + 4;
        want_ops[1 - int8_side] = TINY_OPS;
        check_pair(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "profile"), 0), names, ops, n, 2,
                   int8_side, want_ops);
        cJSON_Delete(doc);
    }
    fx_free(&f);
}
END_TEST

/* The character of line at column c, ' ' past its end. */
static char at_column(const char *line, size_t len, size_t c)
{
    return c < len ? line[c] : ' ';
}

/* The text table: for the node of the int8 side only (the input's
 * quantize), the float columns are blank and the int8 ones are not; for a
 * node of both, both are filled; the total line has both shares at 100%
 * and the ratio. Right-aligned cells end where their header ends. */
START_TEST(test_bench_profile_text)
{
    struct profile_fx f;
    fx_init(&f);
    char *out = NULL, *err = NULL;
    int rc = ts_run_quanta(cf_args("quantize %s --data %s -o %s", f.model, f.images, f.q), NULL,
                           &err);
    ck_assert_msg(rc == 0, "quantize: %s", err);
    free(err);
    static char names[2][16][64], ops[2][16][32];
    int n1 = graph_nodes(f.q, names[1], ops[1], 16);
    int n0 = graph_nodes(f.model, names[0], ops[0], 16);
    const char *only_int8 = NULL;
    for (int i = 0; i < n1 && !only_int8; i++)
        if (find_name(names[0], n0, names[1][i]) < 0)
            only_int8 = names[1][i];
    ck_assert_ptr_nonnull(only_int8);
    rc = ts_run_quanta(cf_args("bench %s %s --profile --batch 2 --iters 2", f.model, f.q), &out,
                       &err);
    ck_assert_msg(rc == 0, "bench: %s", err);
    const char *table = strstr(out, "\nnode ");
    ck_assert_msg(table != NULL, "%s", out);
    table++;
    const char *header_end = strchr(table, '\n');
    size_t float_end = (size_t)(strstr(table, "float ms") - table) + strlen("float ms");
    size_t int8_end = (size_t)(strstr(table, "int8 ms") - table) + strlen("int8 ms");
    ck_assert(float_end < int8_end && int8_end < (size_t)(header_end - table));
    int lines_checked = 0;
    bool saw_total = false;
    for (const char *line = header_end + 1; *line && strncmp(line, "(ms:", 4); ) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        char name[64];
        ck_assert(sscanf(line, "%63s", name) == 1);
        bool in_float = find_name(names[0], n0, name) >= 0;
        bool in_int8 = find_name(names[1], n1, name) >= 0;
        if (!strcmp(name, "total")) {
            saw_total = true;
            in_float = in_int8 = true;
            const char *first = strstr(line, "100.0%");
            ck_assert_msg(first && first < line + len && strstr(first + 1, "100.0%") &&
                              strstr(first + 1, "100.0%") < line + len &&
                              line[len - 1] == 'x',
                          "total: %.*s", (int)len, line);
        }
        ck_assert_msg(in_float || in_int8, "unknown node line: %.*s", (int)len, line);
        ck_assert_msg((at_column(line, len, float_end - 1) != ' ') == in_float,
                      "float ms of '%s': %.*s", name, (int)len, line);
        ck_assert_msg((at_column(line, len, int8_end - 1) != ' ') == in_int8,
                      "int8 ms of '%s': %.*s", name, (int)len, line);
        lines_checked++;
        line = eol ? eol + 1 : line + len;
    }
    ck_assert(saw_total);
    ck_assert_int_ge(lines_checked, n1 + 1);
    free(out);
    free(err);
    fx_free(&f);
}
END_TEST

/* One model: one side, no speed-ups; more than two: a usage error. */
START_TEST(test_bench_profile_one_model)
{
    struct profile_fx f;
    fx_init(&f);
    cJSON *doc = cf_run_json(
        cf_args("bench %s --profile --json --batch 2 --threads 1,2 --iters 2", f.model), 0);
    const cJSON *profile = cJSON_GetObjectItem(doc, "profile");
    ck_assert_int_eq(cJSON_GetArraySize(profile), 2); /* one per thread count */
    for (int e = 0; e < 2; e++) {
        const cJSON *entry = cJSON_GetArrayItem(profile, e);
        ck_assert_int_eq((int)cf_num(entry, "threads"), e + 1);
        ck_assert(!cJSON_HasObjectItem(entry, "speedup"));
        const cJSON *nodes = cJSON_GetObjectItem(entry, "nodes");
        ck_assert_int_eq(cJSON_GetArraySize(nodes), 3); /* flat, fc1, fc2 */
        double share = 0;
        for (int l = 0; l < 3; l++) {
            const cJSON *line = cJSON_GetArrayItem(nodes, l);
            ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(line, "models")), 1);
            ck_assert(!cJSON_HasObjectItem(line, "speedup"));
            share += cf_num(cJSON_GetArrayItem(cJSON_GetObjectItem(line, "models"), 0), "share");
        }
        ck_assert(fabs(share - 1) < 1e-9);
    }
    cJSON_Delete(doc);
    cf_expect_usage(cf_args("bench %s %s %s --profile", f.model, f.model, f.model),
                    "--profile shows one model, or two side by side, not 3");
    char *out = NULL;
    ck_assert_int_eq(ts_run_quanta("bench --help", &out, NULL), 0);
    ck_assert(strstr(out, "--profile") && strstr(out, "side by side"));
    free(out);
    fx_free(&f);
}
END_TEST

START_TEST(test_profile_errors)
{
    struct profile_fx f;
    fx_init(&f);
    cf_expect_usage(cf_args("profile"), "one model file is needed");
    cf_expect_usage(cf_args("profile %s --iters 0", f.model), "--iters '0'");
    cf_expect_usage(cf_args("profile %s --batch x", f.model), "--batch 'x'");
    cf_expect_usage(cf_args("profile %s %s", f.model, f.model), "one model file");
    cf_expect_input_error(cf_args("profile %s", f.images), f.images);
    char *out = NULL;
    ck_assert_int_eq(ts_run_quanta("profile --help", &out, NULL), 0);
    ck_assert(strstr(out, "usage: quanta profile"));
    free(out);
    fx_free(&f);
}
END_TEST

Suite *suite_cli_profile(void);
Suite *suite_cli_profile(void)
{
    Suite *s = suite_create("cli_profile");
    TCase *tc = tcase_create("profile");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_profile_float_and_int8);
    tcase_add_test(tc, test_profile_errors);
    tcase_add_test(tc, test_bench_profile_side_by_side);
    tcase_add_test(tc, test_bench_profile_fused);
    tcase_add_test(tc, test_bench_profile_text);
    tcase_add_test(tc, test_bench_profile_one_model);
    suite_add_tcase(s, tc);
    return s;
}

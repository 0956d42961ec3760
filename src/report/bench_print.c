/* quanta bench's reports: the table of every model and batch size, its
 * JSON, and with --profile the per-node tables of one model, or of two
 * models side by side with their nodes paired by name. */
#include "report/bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* "12.3%", or "-" when unknown. */
static const char *fmt_fraction(double v, char *buf, size_t size)
{
    if (!isfinite(v))
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%.1f%%", 100.0 * v);
    return buf;
}

/* ---- the whole runs ---- */

enum quanta_status bench_print_text(const struct bench *b, FILE *out)
{
    char ghz[64], f[32];
    if (isnan(b->clock.ghz))
        snprintf(ghz, sizeof ghz, "unknown");
    else
        snprintf(ghz, sizeof ghz, "%.2f GHz (%s)", b->clock.ghz, b->clock.source);
    fprintf(out, "kernels: %s  threads: ", b->kernels);
    for (int i = 0; i < b->cfg.n_threads; i++)
        fprintf(out, "%s%d", i ? "," : "", b->models[i * b->cfg.n_models].threads);
    fprintf(out, "  clock: %s  iters: %lld  warmup: %lld\n", ghz, (long long)b->cfg.iters,
            (long long)b->cfg.warmup);
    static const char *const head[] = {"model", "type", "threads", "batch", "median ms",
                                       "cpu ms", "p90 ms", "p99 ms", "samples/s", "GOP/s",
                                       "peak", "speed-up", "peak RSS"};
    enum report_align align[13];
    for (int c = 0; c < 13; c++)
        align[c] = c < 2 ? REPORT_ALIGN_LEFT : REPORT_ALIGN_RIGHT;
    struct report_table *t = report_table_create(13, head, align);
    for (int i = 0; i < b->n_rows; i++) {
        const struct bench_model *bm = &b->models[i];
        for (int k = 0; k < b->cfg.n_batches; k++) {
            const struct bench_batch *bb = &bm->batches[k];
            report_table_add(t, "%s", k == 0 ? bm->path : "");
            report_table_add(t, "%s", k == 0 ? (bm->int8 ? "int8" : "float") : "");
            if (k == 0)
                report_table_add(t, "%d", bm->threads);
            else
                report_table_add(t, "%s", "");
            report_table_add(t, "%lld", (long long)bb->batch);
            report_table_add(t, "%.3f", bb->median_ms);
            report_table_add(t, "%.3f", bb->cpu_ms);
            report_table_add(t, "%.3f", bb->p90_ms);
            report_table_add(t, "%.3f", bb->p99_ms);
            report_table_add(t, "%.1f", bb->samples_per_s);
            report_table_add(t, "%.2f", bb->gops);
            report_table_add(t, "%s", fmt_fraction(bb->peak_fraction, f, sizeof f));
            report_table_add(t, "%.2fx", bb->speedup);
            if (k == 0)
                report_table_add(t, "%.1f MiB", (double)bm->peak_rss_kb / 1024.0);
            else
                report_table_add(t, "%s", "");
        }
    }
    enum quanta_status st = report_table_print(t, out);
    report_table_free(t);
    if (st != QUANTA_OK)
        return st;
    for (int i = 0; i < b->n_rows; i++) {
        const struct bench_model *bm = &b->models[i];
        fprintf(out, "%s: %.4g MOP per sample, peak %.1f GOP/s (%s, %d thread%s)\n", bm->path,
                bm->ops_per_sample * 1e-6, bm->peak_gops, bm->int8 ? "int8" : "float",
                bm->threads, bm->threads == 1 ? "" : "s");
    }
    return QUANTA_OK;
}

cJSON *bench_json(const struct bench *b)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    cJSON_AddStringToObject(root, "kernels", b->kernels);
    cJSON_AddNumberToObject(root, "threads", b->models[0].threads);
    report_json_number(root, "ghz", b->clock.ghz);
    cJSON_AddStringToObject(root, "ghz_source", b->clock.source);
    cJSON_AddNumberToObject(root, "iters", (double)b->cfg.iters);
    cJSON_AddNumberToObject(root, "warmup", (double)b->cfg.warmup);
    cJSON *batches = cJSON_AddArrayToObject(root, "batches");
    for (int k = 0; batches && k < b->cfg.n_batches; k++)
        cJSON_AddItemToArray(batches, cJSON_CreateNumber((double)b->cfg.batches[k]));
    cJSON *models = cJSON_AddArrayToObject(root, "models");
    for (int i = 0; models && i < b->n_rows; i++) {
        const struct bench_model *bm = &b->models[i];
        cJSON *m = cJSON_CreateObject();
        cJSON_AddItemToArray(models, m);
        cJSON_AddStringToObject(m, "path", bm->path);
        cJSON_AddStringToObject(m, "precision", bm->int8 ? "int8" : "float");
        cJSON_AddStringToObject(m, "kernels", b->kernels);
        cJSON_AddNumberToObject(m, "threads", bm->threads);
        cJSON_AddNumberToObject(m, "ops_per_sample", bm->ops_per_sample);
        report_json_number(m, "peak_gops", bm->peak_gops);
        cJSON_AddNumberToObject(m, "peak_rss_kb", (double)bm->peak_rss_kb);
        cJSON *list = cJSON_AddArrayToObject(m, "batches");
        for (int k = 0; list && k < b->cfg.n_batches; k++) {
            const struct bench_batch *bb = &bm->batches[k];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToArray(list, o);
            cJSON_AddNumberToObject(o, "batch", (double)bb->batch);
            report_json_number(o, "median_ms", bb->median_ms);
            report_json_number(o, "cpu_ms", bb->cpu_ms);
            report_json_number(o, "p90_ms", bb->p90_ms);
            report_json_number(o, "p99_ms", bb->p99_ms);
            report_json_number(o, "samples_per_s", bb->samples_per_s);
            report_json_number(o, "gops", bb->gops);
            report_json_number(o, "peak_fraction", bb->peak_fraction);
            report_json_number(o, "speedup", bb->speedup);
            cJSON *runs = cJSON_AddArrayToObject(o, "runs_ms");
            for (int64_t r = 0; runs && bb->runs_ms && r < b->cfg.iters; r++)
                cJSON_AddItemToArray(runs, cJSON_CreateNumber(bb->runs_ms[r]));
        }
    }
    return root;
}

/* ---- per node ---- */

/* One line of a profile: node index on each side, -1 where absent. */
struct pair {
    int at[2];
};

static int find_node(const struct bench_batch *bb, const char *name)
{
    for (int i = 0; i < bb->n_nodes; i++)
        if (strcmp(bb->nodes[i].name, name) == 0)
            return i;
    return -1;
}

/* The lines of sides s[0..n) (n is 1 or 2) in graph order: the first
 * side's nodes in order, each with the second side's node of the same
 * name; a node of the second side only comes just before the next node
 * that follows it there. Returns the number of lines, -1 out of memory. */
static int pair_nodes(const struct bench_batch *const *s, int n, struct pair **out)
{
    int n0 = s[0]->n_nodes, n1 = n > 1 ? s[1]->n_nodes : 0;
    struct pair *p = malloc((size_t)(n0 + n1 + 1) * sizeof *p);
    bool *used = calloc((size_t)n1 + 1, sizeof *used);
    if (!p || !used) {
        free(p);
        free(used);
        return -1;
    }
    int lines = 0, i = 0, j = 0;
    while (i < n0 || j < n1) {
        while (j < n1 && used[j])
            j++;
        if (j < n1 && find_node(s[0], s[1]->nodes[j].name) < 0) {
            p[lines++] = (struct pair){{-1, j++}};
        } else if (i < n0) {
            int m = n > 1 ? find_node(s[1], s[0]->nodes[i].name) : -1;
            if (m >= 0)
                used[m] = true;
            p[lines++] = (struct pair){{i++, m}};
        } else if (j < n1) {
            p[lines++] = (struct pair){{-1, j++}}; /* unreachable: matched ones are used */
        }
    }
    free(used);
    *out = p;
    return lines;
}

/* Sum of a side's node operations, for the total line. */
static double side_ops(const struct bench_batch *bb)
{
    double ops = 0;
    for (int i = 0; i < bb->n_nodes; i++)
        ops += bb->nodes[i].ops;
    return ops;
}

/* The column label of side k: its precision when the two differ. */
static const char *side_label(const struct bench_model *const *m, int n, int k)
{
    if (n == 1)
        return "";
    if (m[0]->int8 != m[1]->int8)
        return m[k]->int8 ? "int8 " : "float ";
    return k ? "#2 " : "#1 ";
}

static void add_side(struct report_table *t, const struct bench_node *nd)
{
    char f[32];
    if (!nd) {
        for (int c = 0; c < 4; c++)
            report_table_add(t, "%s", "");
        return;
    }
    report_table_add(t, "%.4f", nd->median_ms);
    report_table_add(t, "%.1f%%", 100.0 * nd->share);
    if (isfinite(nd->gops))
        report_table_add(t, "%.2f", nd->gops);
    else
        report_table_add(t, "%s", "-");
    report_table_add(t, "%s", fmt_fraction(nd->peak_fraction, f, sizeof f));
}

static enum quanta_status print_one_profile(const struct bench *b, int row0, int k, FILE *out)
{
    const int n = b->cfg.n_models;
    const struct bench_model *m[2] = {&b->models[row0], n > 1 ? &b->models[row0 + 1] : NULL};
    const struct bench_batch *s[2] = {&m[0]->batches[k], n > 1 ? &m[1]->batches[k] : NULL};
    struct pair *p;
    int lines = pair_nodes(s, n, &p);
    if (lines < 0)
        return QUANTA_ERR_NOMEM;
    const int cols = 3 + 4 * n + (n > 1);
    char head_text[8][32];
    const char *head[12] = {"node", "op", "output shape"};
    enum report_align align[12];
    static const char *const fields[] = {"ms", "share", "GOP/s", "peak"};
    for (int side = 0; side < n; side++)
        for (int c = 0; c < 4; c++) {
            snprintf(head_text[side * 4 + c], sizeof head_text[0], "%s%s",
                     side_label(m, n, side), fields[c]);
            head[3 + side * 4 + c] = head_text[side * 4 + c];
        }
    if (n > 1)
        head[cols - 1] = "speed-up";
    for (int c = 0; c < cols; c++)
        align[c] = c < 3 ? REPORT_ALIGN_LEFT : REPORT_ALIGN_RIGHT;
    fprintf(out, "\nper node: batch %lld, threads %d, median of %lld runs",
            (long long)s[0]->batch, m[0]->threads, (long long)b->cfg.iters);
    for (int side = 0; side < n; side++)
        fprintf(out, "%s %s%s%s", side ? "," : ";", side_label(m, n, side), n > 1 ? "= " : "",
                m[side]->path);
    fputc('\n', out);
    struct report_table *t = report_table_create(cols, head, align);
    for (int l = 0; l < lines; l++) {
        const struct bench_node *nd[2] = {NULL, NULL};
        for (int side = 0; side < n; side++)
            nd[side] = p[l].at[side] >= 0 ? &s[side]->nodes[p[l].at[side]] : NULL;
        const struct bench_node *any = nd[0] ? nd[0] : nd[1];
        char shape[128];
        report_table_add(t, "%s", any->name);
        if (nd[0] && nd[1] && nd[0]->op != nd[1]->op)
            report_table_add(t, "%s/%s", graph_op_name(nd[0]->op), graph_op_name(nd[1]->op));
        else
            report_table_add(t, "%s", graph_op_name(any->op));
        report_table_add(t, "%s", quanta_shape_format(&any->shape, shape, sizeof shape));
        for (int side = 0; side < n; side++)
            add_side(t, nd[side]);
        if (n > 1 && nd[0] && nd[1] && nd[1]->median_ms > 0)
            report_table_add(t, "%.2fx", nd[0]->median_ms / nd[1]->median_ms);
        else if (n > 1)
            report_table_add(t, "%s", "");
    }
    free(p);
    report_table_add(t, "%s", "total");
    report_table_add(t, "%s", "");
    report_table_add(t, "%s", "");
    for (int side = 0; side < n; side++) {
        struct bench_node sum = {.median_ms = s[side]->node_sum_ms, .share = 1.0};
        sum.gops = sum.median_ms > 0 ? side_ops(s[side]) / sum.median_ms * 1e-6 : NAN;
        sum.peak_fraction = sum.gops / m[side]->peak_gops;
        add_side(t, &sum);
    }
    if (n > 1)
        report_table_add(t, "%.2fx", s[0]->node_sum_ms / s[1]->node_sum_ms);
    enum quanta_status st = report_table_print(t, out);
    report_table_free(t);
    return st;
}

enum quanta_status bench_print_profile(const struct bench *b, FILE *out)
{
    enum quanta_status st = QUANTA_OK;
    for (int th = 0; th < b->cfg.n_threads && st == QUANTA_OK; th++)
        for (int k = 0; k < b->cfg.n_batches && st == QUANTA_OK; k++)
            st = print_one_profile(b, th * b->cfg.n_models, k, out);
    if (st == QUANTA_OK)
        fprintf(out, "(ms: median over the runs of each node's wall time; share: of the sum "
                     "of the node medians; peak: of the kernel level's peak for the node's "
                     "float or int8 arithmetic)\n");
    return st;
}

static cJSON *side_json(const struct bench_node *nd)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "op", graph_op_name(nd->op));
    cJSON_AddStringToObject(o, "precision", nd->int8 ? "int8" : "float");
    report_json_number(o, "median_ms", nd->median_ms);
    report_json_number(o, "share", nd->share);
    report_json_number(o, "ops", nd->ops);
    report_json_number(o, "gops", nd->gops);
    report_json_number(o, "peak_fraction", nd->peak_fraction);
    return o;
}

static cJSON *one_profile_json(const struct bench *b, int row0, int k)
{
    const int n = b->cfg.n_models;
    const struct bench_batch *s[2] = {&b->models[row0].batches[k],
                                      n > 1 ? &b->models[row0 + 1].batches[k] : NULL};
    struct pair *p;
    int lines = pair_nodes(s, n, &p);
    cJSON *o = lines >= 0 ? cJSON_CreateObject() : NULL;
    if (!o) {
        free(lines >= 0 ? p : NULL);
        return NULL;
    }
    cJSON_AddNumberToObject(o, "batch", (double)s[0]->batch);
    cJSON_AddNumberToObject(o, "threads", b->models[row0].threads);
    cJSON *paths = cJSON_AddArrayToObject(o, "models");
    cJSON *totals = cJSON_AddArrayToObject(o, "node_sum_ms");
    for (int side = 0; side < n; side++) {
        cJSON_AddItemToArray(paths, cJSON_CreateString(b->models[row0 + side].path));
        cJSON_AddItemToArray(totals, cJSON_CreateNumber(s[side]->node_sum_ms));
    }
    if (n > 1)
        report_json_number(o, "speedup", s[0]->node_sum_ms / s[1]->node_sum_ms);
    cJSON *nodes = cJSON_AddArrayToObject(o, "nodes");
    for (int l = 0; nodes && l < lines; l++) {
        cJSON *line = cJSON_CreateObject();
        cJSON_AddItemToArray(nodes, line);
        const struct bench_node *nd[2] = {NULL, NULL};
        for (int side = 0; side < n; side++)
            nd[side] = p[l].at[side] >= 0 ? &s[side]->nodes[p[l].at[side]] : NULL;
        const struct bench_node *any = nd[0] ? nd[0] : nd[1];
        cJSON_AddStringToObject(line, "node", any->name);
        cJSON *shape = cJSON_AddArrayToObject(line, "output_shape");
        for (int d = 0; shape && d < any->shape.rank; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)any->shape.dims[d]));
        cJSON *sides = cJSON_AddArrayToObject(line, "models");
        for (int side = 0; sides && side < n; side++)
            cJSON_AddItemToArray(sides, nd[side] ? side_json(nd[side]) : cJSON_CreateNull());
        if (n > 1 && nd[0] && nd[1])
            report_json_number(line, "speedup", nd[0]->median_ms / nd[1]->median_ms);
        else if (n > 1)
            cJSON_AddNullToObject(line, "speedup");
    }
    free(p);
    return o;
}

bool bench_profile_json(const struct bench *b, cJSON *root)
{
    cJSON *list = cJSON_AddArrayToObject(root, "profile");
    for (int th = 0; list && th < b->cfg.n_threads; th++)
        for (int k = 0; k < b->cfg.n_batches; k++) {
            cJSON *o = one_profile_json(b, th * b->cfg.n_models, k);
            if (!o)
                return false;
            cJSON_AddItemToArray(list, o);
        }
    return list != NULL;
}

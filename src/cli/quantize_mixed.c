/* The accuracy-budget search's command-line side (quantize_mixed.h): the
 * eval figures of a candidate as the search's score, and the table. */
#include "cli/quantize_mixed.h"

#include <math.h>
#include <string.h>

#include "base/progress.h"
#include "cli/cli.h"
#include "cli/cli_data.h"
#include "report/holdout.h"

int quantize_mixed_option(struct quantize_mixed_cli *mc, int c, const char *arg,
                          const char *usage)
{
    struct report_eval_options *g = &mc->gates;
    double v;
    switch (c) {
    case QUANTIZE_MIXED_OPT_MAX_DROP:
    case QUANTIZE_MIXED_OPT_MIN_AGREEMENT:
        if (!cli_parse_double(arg, &v) || !(v >= 0.0) || v > 100.0)
            return cli_usage_error("quantize", usage,
                                   c == QUANTIZE_MIXED_OPT_MAX_DROP
                                       ? "--max-drop '%s' is not a number of points in [0, 100]"
                                       : "--min-agreement '%s' is not a percentage in [0, 100]",
                                   arg);
        if (c == QUANTIZE_MIXED_OPT_MAX_DROP)
            g->has_max_drop = true, g->max_drop = v;
        else
            g->has_min_agreement = true, g->min_agreement = v;
        return 0;
    case QUANTIZE_MIXED_OPT_HOLDOUT:
        mc->holdout = arg;
        return 0;
    case QUANTIZE_MIXED_OPT_LABELS:
        mc->labels = arg;
        return 0;
    case QUANTIZE_MIXED_OPT_HOLDOUT_SAMPLES:
        return cli_opt_samples("quantize", usage, arg, &mc->samples);
    default:
        return -1;
    }
}

int quantize_mixed_check(struct quantize_mixed_cli *mc, bool static_mode, const char *usage)
{
    mc->gates.metric = REPORT_METRIC_DEFAULT;
    if (quantize_mixed_wanted(mc)) {
        if (!static_mode)
            return cli_usage_error("quantize", usage,
                                   "--max-drop and --min-agreement go with --mode static");
        if (!mc->holdout)
            return cli_usage_error("quantize", usage,
                                   "--max-drop and --min-agreement need --holdout FILE "
                                   "(held-out samples, not the calibration ones)");
    } else if (mc->holdout || mc->labels || mc->samples) {
        return cli_usage_error("quantize", usage, "--holdout, --labels and --holdout-samples "
                                                  "go with --max-drop or --min-agreement");
    }
    return 0;
}

enum quanta_status quantize_mixed_print_json(const char *output, cJSON *record,
                                             struct quanta_error *err)
{
    cJSON *root = cJSON_CreateObject();
    if (root) {
        cJSON_AddStringToObject(root, "output", output);
        cJSON_AddNumberToObject(root, "bytes", (double)cli_file_size(output));
        if (record)
            cJSON_AddItemToObject(root, "mixed_precision", record);
        else
            cJSON_AddNullToObject(root, "mixed_precision");
    } else {
        cJSON_Delete(record);
    }
    return cli_json_print(root, err);
}

bool quantize_mixed_wanted(const struct quantize_mixed_cli *mc)
{
    return mc->gates.has_max_drop || mc->gates.has_min_agreement;
}

static enum quanta_status score(void *ctx, const struct graph *q, struct mixed_score *s,
                                struct quanta_error *err)
{
    struct report_holdout *h = ctx;
    struct report_eval e;
    enum quanta_status st = report_holdout_score(h, q, &e, err);
    if (st == QUANTA_OK) {
        s->pass = e.pass;
        s->drop = report_eval_accuracy_drop(&e);
        s->agreement = report_eval_agreement(&e);
        s->kl = report_compare_kl(&e.cmp);
        /* the figure of the first gate: the drop when it is gated */
        s->merit = h->opt.has_max_drop ? -s->drop : s->agreement;
    }
    report_eval_free(&e);
    return st;
}

static void print_table(const struct mixed_result *res, const struct quantize_mixed_cli *mc,
                        int64_t samples, FILE *out)
{
    const struct mixed_search *s = &res->search;
    static const char *const head[] = {"layer", "op", "drop alone", "agreement alone",
                                       "gain", "runs"};
    static const enum report_align align[] = {REPORT_ALIGN_LEFT,  REPORT_ALIGN_LEFT,
                                              REPORT_ALIGN_RIGHT, REPORT_ALIGN_RIGHT,
                                              REPORT_ALIGN_RIGHT, REPORT_ALIGN_LEFT};
    fprintf(out, "mixed precision on %lld samples of %s: every layer int8: drop %.2f, "
                 "agreement %.2f%%; %s\n", (long long)samples, mc->holdout, s->base.drop,
            s->base.agreement,
            s->base.pass ? "meets the budget, no layer kept in float"
                         : "below the budget; each layer alone in float:");
    if (s->base.pass || res->n == 0)
        return;
    struct report_table *t = report_table_create(6, head, align);
    for (int k = 0; t && k < res->n; k++) {
        int i = s->order[k];
        const struct mixed_layer *l = &s->layers[i];
        report_table_add(t, "%s", res->names[i]);
        report_table_add(t, "%s", graph_op_name(res->ops[i]));
        report_table_add(t, "%.2f", l->alone.drop);
        report_table_add(t, "%.2f%%", l->alone.agreement);
        report_table_add(t, "%+.2f", l->gain);
        report_table_add(t, "%s", l->kept              ? "float"
                                  : res->is_float[i] ? "float (its input is)"
                                                     : "int8");
    }
    if (!t || report_table_print(t, out) != QUANTA_OK)
        fprintf(stderr, "quanta: out of memory printing the layers\n");
    report_table_free(t);
    fprintf(out, "kept %d of %d layers in float (%d measurements): drop %.2f, agreement "
                 "%.2f%%\n", s->n_kept, res->n, s->measured, s->chosen.drop,
            s->chosen.agreement);
}

void quantize_mixed_hook(struct quantize_mixed_cli *mc, struct quantize_file_search *s)
{
    *s = (struct quantize_file_search){.run = quantize_mixed_run, .ctx = mc,
                                       .has_max_drop = mc->gates.has_max_drop,
                                       .max_drop = mc->gates.max_drop,
                                       .has_min_agreement = mc->gates.has_min_agreement,
                                       .min_agreement = mc->gates.min_agreement,
                                       .holdout = mc->holdout};
}

enum quanta_status quantize_mixed_run(void *ctx, const struct graph *fg,
                                      enum quanta_layout layout, struct mixed_request *req,
                                      struct graph *q, cJSON **record, struct quanta_error *err)
{
    const struct quantize_mixed_cli *mc = ctx;
    struct report_holdout h;
    struct mixed_result res;
    memset(&res, 0, sizeof res);
    memset(q, 0, sizeof *q);
    *record = NULL;
    progress_label(req->progress, "mixed precision: float outputs");
    enum quanta_status st = report_holdout_open(&h, fg, mc->holdout, mc->labels, mc->samples,
                                                layout, &mc->gates, mc->threads, req->progress,
                                                err);
    if (st == QUANTA_OK) {
        req->score = score;
        req->ctx = &h;
        st = quantize_mixed(req, &res, q, err);
    }
    progress_clear(req->progress);
    if (st == QUANTA_OK) {
        cJSON *r = mixed_result_json(&res);
        cJSON *holdout = r ? cJSON_AddObjectToObject(r, "holdout") : NULL;
        if (!holdout) {
            cJSON_Delete(r);
            st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory");
        } else {
            const char *slash = strrchr(mc->holdout, '/');
            cJSON_AddStringToObject(holdout, "data", slash ? slash + 1 : mc->holdout);
            cJSON_AddNumberToObject(holdout, "samples", (double)h.feed.samples);
            if (mc->gates.has_max_drop)
                cJSON_AddNumberToObject(r, "max_drop", mc->gates.max_drop);
            if (mc->gates.has_min_agreement)
                cJSON_AddNumberToObject(r, "min_agreement", mc->gates.min_agreement);
            *record = r;
            if (mc->table)
                print_table(&res, mc, h.feed.samples, mc->table);
        }
    }
    if (st != QUANTA_OK) {
        graph_free(q);
        memset(q, 0, sizeof *q);
    }
    mixed_result_free(&res);
    report_holdout_close(&h);
    return st;
}

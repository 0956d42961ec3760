/* The HTML page of quanta report: summary (the figures of quanta eval
 * --json, from the same object), the layers (SQNR in graph order,
 * histograms with the int8 clipping range), the class-by-class changes. */
#include "report/report_html.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quanta/safe_file.h"
#include "report/svg.h"

static const char style[] =
    "body{font:14px/1.4 sans-serif;margin:1.5em;color:#222;max-width:1400px}"
    "h1{font-size:1.5em}h2{margin-top:1.6em;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;margin:.6em 0}"
    "th,td{border:1px solid #ccc;padding:2px 8px}th{background:#f0f0f0}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}td.z{color:#bbb}"
    "td.hot{background:#fdd}"
    "table.sortable th{cursor:pointer}"
    "th[aria-sort=ascending]::after{content:' \\25B2'}"
    "th[aria-sort=descending]::after{content:' \\25BC'}"
    "code{background:#f4f4f4;padding:0 3px;overflow-wrap:anywhere}#inputs{max-width:1000px}"
    ".layers{display:flex;flex-wrap:wrap;gap:0 16px}"
    ".layer{border:1px solid #ddd;padding:4px 8px;margin:4px 0}"
    ".layer h3{font-size:1em;margin:.2em 0}"
    "svg text{font-size:11px;fill:#333}svg .frame{fill:none;stroke:#ccc}"
    "svg .bar{fill:#4a7ab5}svg .bar.inf{fill:#4a9a5a}svg .axis{stroke:#888}"
    "svg .clip{stroke:#d22;stroke-width:2;stroke-dasharray:4 2}"
    ".note{color:#555}#js-errors{color:#d22;white-space:pre}\n";

/* Sorting only: every number is already in the tables. */
static const char script[] =
    "(function(){\n"
    "window.onerror=function(m){var e=document.getElementById('js-errors');"
    "e.textContent+=m+'\\n';e.setAttribute('data-errors','1');};\n"
    "function key(td){var v=td.getAttribute('data-v');"
    "if(v!==null&&v!==''){var x=parseFloat(v);if(!isNaN(x))return x;}"
    "return td.textContent;}\n"
    "function order(x,y){if(typeof x==='number'&&typeof y==='number')return x-y;"
    "if(typeof x==='number')return -1;if(typeof y==='number')return 1;"
    "return String(x).localeCompare(String(y));}\n"
    "document.querySelectorAll('table.sortable').forEach(function(t){\n"
    "var ths=t.tHead.rows[0].cells;\n"
    "Array.prototype.forEach.call(ths,function(th,c){th.tabIndex=0;"
    "th.addEventListener('click',function(){\n"
    "var asc=th.getAttribute('aria-sort')!=='ascending';\n"
    "Array.prototype.forEach.call(ths,function(o){o.removeAttribute('aria-sort');});\n"
    "th.setAttribute('aria-sort',asc?'ascending':'descending');\n"
    "var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows);\n"
    "rows.sort(function(a,b){var r=order(key(a.cells[c]),key(b.cells[c]));"
    "return asc?r:-r;});\n"
    "rows.forEach(function(r){body.appendChild(r);});});});\n"
    "t.setAttribute('data-sortable','ready');});\n"
    "document.documentElement.setAttribute('data-script','done');\n"
    "})();\n";

/* A number shown short, with its exact value in data-v for sorting and
 * for tools. */
static void num_cell(struct report_buf *b, double v)
{
    if (!isfinite(v)) {
        report_buf_printf(b, "<td class=\"n\" data-v=\"%s\">%s</td>",
                          isnan(v) ? "" : v > 0 ? "Infinity" : "-Infinity",
                          isnan(v) ? "n/a" : v > 0 ? "inf" : "-inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15)
        report_buf_printf(b, "<td class=\"n\" data-v=\"%.17g\">%.0f</td>", v, v);
    else
        report_buf_printf(b, "<td class=\"n\" data-v=\"%.17g\">%.5g</td>", v, v);
}

static double json_num(const cJSON *o, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(item) ? item->valuedouble : NAN;
}

static const char *const model_rows[][2] = {
    {"accuracy", "top-1 accuracy (%)"}, {"top5", "top-5 accuracy (%)"},
    {"metric_value", "task metric"},    {"logloss", "log loss (nats)"},
    {"auc", "AUC"},                     {"mse", "MSE vs labels"},
    {"mae", "MAE vs labels"},           {"cosine", "cosine vs labels"},
    {"sqnr_db", "SQNR vs labels (dB)"}, {"bytes", "file size (bytes)"},
    {"ms_per_sample", "latency (ms per sample)"},
};

static const char *const compare_rows[][2] = {
    {"accuracy_drop", "accuracy drop (points, float - int8)"},
    {"agreement", "top-1 agreement (%)"},
    {"kl_divergence", "mean KL(float || int8) (nats)"},
    {"sqnr_db", "output SQNR of int8 vs float (dB)"},
    {"output_mse", "output MSE"}, {"output_cosine", "output cosine"},
    {"model1_only_correct", "samples only float gets right"},
    {"model2_only_correct", "samples only int8 gets right"},
    {"mcnemar_p", "exact McNemar p"}, {"metric_drop", "task metric drop"},
};

static void summary(struct report_buf *b, const cJSON *j, const struct report_html_options *o)
{
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(j, "models");
    const cJSON *m0 = cJSON_GetArrayItem(models, 0), *m1 = cJSON_GetArrayItem(models, 1);
    const char *metric = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "metric"));
    metric = metric ? metric : "";
    report_buf_printf(b, "<h2 id=\"summary\">Summary</h2>\n<table class=\"sortable\" "
                      "id=\"summary-models\"><thead><tr><th>figure</th><th>float</th>"
                      "<th>int8</th><th>change (int8 - float)</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < sizeof model_rows / sizeof model_rows[0]; i++) {
        const char *key = model_rows[i][0];
        if (!cJSON_GetObjectItemCaseSensitive(m0, key) ||
            (!o->latency && strcmp(key, "ms_per_sample") == 0))
            continue;
        double v0 = json_num(m0, key), v1 = json_num(m1, key);
        if (isnan(v0) && isnan(v1))
            continue; /* not measured here (e.g. accuracy without labels) */
        report_buf_printf(b, "<tr data-key=\"models.%s\"><td>%s", key, model_rows[i][1]);
        if (strcmp(key, "metric_value") == 0)
            report_buf_printf(b, " (%s)", metric);
        report_buf_printf(b, "</td>");
        num_cell(b, v0);
        num_cell(b, v1);
        num_cell(b, v1 - v0);
        report_buf_printf(b, "</tr>\n");
    }
    report_buf_printf(b, "</tbody></table>\n<table class=\"sortable\" id=\"summary-compare\">"
                      "<thead><tr><th>comparison</th><th>value</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < sizeof compare_rows / sizeof compare_rows[0]; i++) {
        const char *key = compare_rows[i][0];
        double v = json_num(j, key);
        if (strcmp(key, "sqnr_db") == 0 &&
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "identical_outputs")))
            v = INFINITY; /* JSON has no infinity: eval writes null */
        if (isnan(v))
            continue;
        report_buf_printf(b, "<tr data-key=\"%s\"><td>%s</td>", key, compare_rows[i][1]);
        num_cell(b, v);
        report_buf_printf(b, "</tr>\n");
    }
    report_buf_printf(b, "</tbody></table>\n");
    if (!o->latency)
        report_buf_printf(b, "<p class=\"note\">Latency left out (--no-latency): the page "
                          "depends only on the models and the data.</p>\n");
    else
        report_buf_printf(b, "<p class=\"note\">Latency is the time inside the runner on "
                          "this machine; it is the one figure that varies from run to "
                          "run.</p>\n");
}

static const char *layer_op(const struct graph *g, int value, char *buf, size_t size)
{
    int node = g->values[value].producer;
    return node >= 0 ? report_op_label(&g->nodes[node], buf, size) : "";
}

static void layer_table(struct report_buf *b, const struct report_layers *ls,
                        const struct graph *g1)
{
    report_buf_printf(b, "<table class=\"sortable\" id=\"layer-table\"><thead><tr><th>#</th>"
                      "<th>value</th><th>op</th><th>SQNR (dB)</th><th>float min</th>"
                      "<th>float max</th><th>int8 min</th><th>int8 max</th>"
                      "<th>clipped (%%)</th></tr></thead><tbody>\n");
    for (int i = 0; i < ls->n; i++) {
        const struct report_layer *l = &ls->list[i];
        const struct report_hist *h = l->hist;
        report_buf_printf(b, "<tr><td class=\"n\" data-v=\"%d\"><a href=\"#layer-%d\">%d</a>"
                          "</td><td>", i + 1, i, i + 1);
        report_buf_escape(b, g1->values[l->value1].name);
        char op[64];
        report_buf_printf(b, "</td><td>%s</td>", layer_op(g1, l->value1, op, sizeof op));
        num_cell(b, l->mismatch ? NAN : report_sqnr_db(&l->sqnr));
        num_cell(b, h && h->count ? h->min : NAN);
        num_cell(b, h && h->count ? h->max : NAN);
        num_cell(b, h && h->has_clip ? h->clip_lo : NAN);
        num_cell(b, h && h->has_clip ? h->clip_hi : NAN);
        num_cell(b, h && h->has_clip && h->count
                        ? 100.0 * (double)(h->below + h->above) / (double)h->count
                        : NAN);
        report_buf_printf(b, "</tr>\n");
    }
    report_buf_printf(b, "</tbody></table>\n");
}

static void layer_charts(struct report_buf *b, const struct report_layers *ls,
                         const struct graph *g1, const struct graph *g2)
{
    report_buf_printf(b, "<div class=\"layers\">\n");
    for (int i = 0; i < ls->n; i++) {
        const struct report_layer *l = &ls->list[i];
        const char *name = g1->values[l->value1].name;
        report_buf_printf(b, "<section class=\"layer\" id=\"layer-%d\"><h3>%d. ", i, i + 1);
        report_buf_escape(b, name);
        char op[64];
        report_buf_printf(b, " (%s)</h3>\n", layer_op(g1, l->value1, op, sizeof op));
        char title[300];
        snprintf(title, sizeof title, "activations of %s%s", name,
                 l->hist && l->hist->has_clip ? "" : " (float in the int8 model)");
        if (l->hist)
            report_svg_hist(b, l->hist, "act", title);
        int node = g1->values[l->value1].producer;
        int w = node >= 0 ? report_node_weight(g1, node) : -1;
        if (w >= 0) {
            struct report_hist h;
            report_weight_hist(g1, w, g2, &h);
            snprintf(title, sizeof title, "weights %s%s", g1->values[w].name,
                     h.has_clip ? "" : " (not int8 in the int8 model)");
            report_svg_hist(b, &h, "weight", title);
        }
        report_buf_printf(b, "</section>\n");
    }
    report_buf_printf(b, "</div>\n");
}

static void layers(struct report_buf *b, const struct report_run *r)
{
    const struct report_layers *ls = &r->layers;
    const struct graph *g1 = ls->g1, *g2 = ls->g2;
    report_buf_printf(b, "<h2 id=\"layers\">Layers</h2>\n<p>%d values both models compute, "
                      "in the float graph's order. SQNR: the int8 model's value against the "
                      "float model's, over every sample. Histograms: the float model's "
                      "values (log count), with the range the int8 model can represent "
                      "(scale &times; (q - zero point) over the integer type) in red.</p>\n",
                      ls->n);
    const char **names = calloc((size_t)ls->n + 1, sizeof *names);
    double *sqnr = calloc((size_t)ls->n + 1, sizeof *sqnr);
    if (!names || !sqnr) {
        b->nomem = true;
    } else {
        for (int i = 0; i < ls->n; i++) {
            names[i] = g1->values[ls->list[i].value1].name;
            sqnr[i] = ls->list[i].mismatch ? NAN : report_sqnr_db(&ls->list[i].sqnr);
        }
        report_svg_bars(b, ls->n, names, sqnr, "dB", "sqnr", "layer");
    }
    free(names);
    free(sqnr);
    layer_table(b, ls, g1);
    layer_charts(b, ls, g1, g2);
}

static void changes(struct report_buf *b, const struct report_changes *c)
{
    report_buf_printf(b, "<h2 id=\"changes\">Confusion changes</h2>\n");
    if (c->classes == 0) {
        report_buf_printf(b, "<p>Not shown: they need class scores and labels.</p>\n");
        return;
    }
    report_buf_printf(b, "<table class=\"sortable\" id=\"class-table\"><thead><tr>"
                      "<th>class</th><th>samples</th><th>float accuracy (%%)</th>"
                      "<th>int8 accuracy (%%)</th><th>float right, int8 wrong</th>"
                      "<th>int8 right, float wrong</th></tr></thead><tbody>\n");
    for (int k = 0; k < c->classes; k++) {
        report_buf_printf(b, "<tr><td class=\"n\" data-v=\"%d\">%d</td>", k, k);
        num_cell(b, (double)c->samples[k]);
        num_cell(b, report_percent(c->right1[k], c->samples[k]));
        num_cell(b, report_percent(c->right2[k], c->samples[k]));
        num_cell(b, (double)report_changes_lost(c, k));
        num_cell(b, (double)c->gained[k]);
        report_buf_printf(b, "</tr>\n");
    }
    report_buf_printf(b, "</tbody></table>\n<p>Samples the float model gets right and the "
                      "int8 model wrong, by label (rows) and the int8 model's class "
                      "(columns):</p>\n<table id=\"lost-matrix\"><thead><tr>"
                      "<th>label \\ int8</th>");
    for (int k = 0; k < c->classes; k++)
        report_buf_printf(b, "<th>%d</th>", k);
    report_buf_printf(b, "</tr></thead><tbody>\n");
    for (int k = 0; k < c->classes; k++) {
        report_buf_printf(b, "<tr><th>%d</th>", k);
        for (int j = 0; j < c->classes; j++) {
            int64_t n = c->lost[(size_t)k * (size_t)c->classes + (size_t)j];
            report_buf_printf(b, "<td class=\"n%s\" data-v=\"%lld\">%lld</td>",
                              n ? " hot" : " z", (long long)n, (long long)n);
        }
        report_buf_printf(b, "</tr>\n");
    }
    report_buf_printf(b, "</tbody></table>\n");
}

static void header(struct report_buf *b, const struct report_run *r)
{
    report_buf_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                      "<title>quanta report: ");
    report_buf_escape(b, r->side[1].path);
    report_buf_printf(b, "</title><style>%s</style></head>\n<body>\n<h1>quanta report</h1>\n"
                      "<table id=\"inputs\"><tbody><tr><th>float model</th><td><code>", style);
    report_buf_escape(b, r->side[0].path);
    report_buf_printf(b, "</code></td></tr><tr><th>int8 model</th><td><code>");
    report_buf_escape(b, r->side[1].path);
    report_buf_printf(b, "</code></td></tr><tr><th>data</th><td><code>");
    report_buf_escape(b, r->opt.data);
    report_buf_printf(b, "</code> (%lld samples)</td></tr><tr><th>labels</th><td>",
                      (long long)r->eval.samples);
    if (report_eval_has_labels(&r->eval)) {
        report_buf_printf(b, "<code>");
        report_buf_escape(b, r->labels.path ? r->labels.path : "");
        report_buf_printf(b, "</code>");
    } else {
        report_buf_printf(b, "none: figures against the float model only");
    }
    report_buf_printf(b, "</td></tr>");
    /* how the int8 model was made, as quanta quantize recorded it */
    static const char *const meta[][2] = {
        {"quanta.calibration.method", "calibration method"},
        {"quanta.calibration.samples", "calibration samples"},
        {"quanta.quantize.options", "quantize options"},
    };
    for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++) {
        const char *v = st_meta_find(&r->side[1].model.file, meta[i][0]);
        if (!v)
            continue;
        report_buf_printf(b, "<tr><th>%s</th><td><code>", meta[i][1]);
        report_buf_escape(b, v);
        report_buf_printf(b, "</code></td></tr>");
    }
    report_buf_printf(b, "<tr><th>task</th><td>%s (metric: %s)</td></tr></tbody>"
                      "</table>\n<p><a href=\"#summary\">summary</a> &middot; <a "
                      "href=\"#layers\">layers</a> &middot; <a href=\"#changes\">confusion "
                      "changes</a></p>\n", report_task_name(r->eval.task),
                      report_metric_name(r->eval.metric));
}

enum quanta_status report_html_write(const struct report_run *r, const char *path,
                                     const struct report_html_options *o,
                                     struct quanta_error *err)
{
    cJSON *j = report_eval_json(&r->eval, r->opt.data, &r->layers);
    if (!j)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for the report");
    struct report_buf b = {0};
    header(&b, r);
    summary(&b, j, o);
    cJSON_Delete(j);
    layers(&b, r);
    changes(&b, &r->changes);
    report_buf_printf(&b, "<div id=\"js-errors\"></div>\n<script>\n%s</script>\n"
                      "</body></html>\n", script);
    enum quanta_status st = b.nomem ? quanta_fail(err, QUANTA_ERR_NOMEM,
                                                  "out of memory for the report")
                                    : safe_file_write_all(path, b.data, b.len, err);
    report_buf_free(&b);
    return st;
}

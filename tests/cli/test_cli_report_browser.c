/* quanta report's page in a real browser: Debian's chromium, headless,
 * loads it and the test checks that no script error or console message
 * occurred, that the script ran (tables made sortable, a click sorts), that
 * the charts exist with the right counts after the scripts ran, and that a
 * screenshot is not blank (the PNG decoded here with zlib). A control page
 * with a deliberate error first shows that both error checks can fail in
 * this browser. Skipped, with the reason, when chromium is absent. */
#include "cli/report_fixture.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* The chromium on PATH, or NULL. */
static const char *find_chromium(void)
{
    static char found[1024];
    const char *path = getenv("PATH");
    if (!path)
        return NULL;
    char *dirs = strdup(path);
    ck_assert_ptr_nonnull(dirs);
    const char *result = NULL;
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d && !result;
         d = strtok_r(NULL, ":", &save)) {
        snprintf(found, sizeof found, "%s/chromium", d);
        if (access(found, X_OK) == 0)
            result = found;
    }
    free(dirs);
    return result;
}

/* Runs headless chromium on a local file; returns the exit status. The
 * logging flags put console messages on stderr as "CONSOLE" lines. */
static int chromium(const char *exe, const char *what, const char *file, const char *out,
                    const char *log)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "timeout 60 %s --headless --no-sandbox --disable-gpu --hide-scrollbars "
             "--no-first-run --user-data-dir=%s --enable-logging=stderr --v=0 "
             "--window-size=1200,1600 %s file://%s >%s 2>%s",
             exe, ts_tmp_path("profile"), what, file, out, log);
    return system(cmd);
}

static bool console_clean(const char *log)
{
    return !strstr(log, "CONSOLE") && !strstr(log, "Uncaught");
}

static void check_control_page(const char *exe)
{
    char *page = cf_tmp("control.html"), *dom = cf_tmp("control.dom"),
         *log = cf_tmp("control.log");
    const char *html = "<!DOCTYPE html><html><body><div id=\"js-errors\"></div><script>"
                       "window.onerror=function(m){var e=document.getElementById('js-errors');"
                       "e.textContent+=m;e.setAttribute('data-errors','1');};"
                       "console.error('deliberate');</script><script>no_such_function();"
                       "</script></body></html>\n";
    ts_write_file(page, html, strlen(html));
    ck_assert_int_eq(chromium(exe, "--dump-dom", page, dom, log), 0);
    char *d = ts_read_file(dom, NULL), *l = ts_read_file(log, NULL);
    ck_assert_ptr_nonnull(d);
    ck_assert_ptr_nonnull(l);
    ck_assert_msg(strstr(d, "data-errors=\"1\"") && strstr(d, "no_such_function"),
                  "window.onerror did not report the control page's error: %s", d);
    ck_assert_msg(!console_clean(l), "the console log shows no message of the control page");
    free(d);
    free(l);
    free(page);
    free(dom);
    free(log);
}

/* ---- PNG: enough to count colours ---- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

struct png_stats {
    uint32_t width, height;
    int64_t pixels, not_background, bar_colour;
};

/* Decodes an 8-bit RGB or RGBA PNG (no interlace) and counts the pixels
 * unlike the top-left one and those of the bars' fill (#4a7ab5). */
static void png_stats(const unsigned char *png, size_t size, struct png_stats *s)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    ck_assert_msg(size > 33 && memcmp(png, sig, 8) == 0, "not a PNG");
    memset(s, 0, sizeof *s);
    int bpp = 0;
    unsigned char *idat = NULL;
    size_t idat_len = 0;
    for (size_t at = 8; at + 12 <= size;) {
        uint32_t len = be32(png + at);
        const unsigned char *type = png + at + 4, *data = png + at + 8;
        ck_assert(at + 12 + len <= size);
        if (memcmp(type, "IHDR", 4) == 0) {
            s->width = be32(data);
            s->height = be32(data + 4);
            ck_assert_int_eq(data[8], 8);      /* bit depth */
            ck_assert(data[9] == 2 || data[9] == 6);
            ck_assert_int_eq(data[12], 0);     /* no interlace */
            bpp = data[9] == 6 ? 4 : 3;
        } else if (memcmp(type, "IDAT", 4) == 0) {
            idat = realloc(idat, idat_len + len);
            ck_assert_ptr_nonnull(idat);
            memcpy(idat + idat_len, data, len);
            idat_len += len;
        }
        at += 12 + len;
    }
    ck_assert(bpp > 0 && s->width > 0 && s->height > 0 && idat_len > 0);
    size_t stride = (size_t)s->width * (size_t)bpp;
    uLongf raw_len = (uLongf)((stride + 1) * s->height);
    unsigned char *raw = malloc(raw_len);
    ck_assert_ptr_nonnull(raw);
    ck_assert_int_eq(uncompress(raw, &raw_len, idat, (uLong)idat_len), Z_OK);
    ck_assert_uint_eq(raw_len, (stride + 1) * s->height);
    unsigned char *prev = calloc(stride, 1), *row;
    ck_assert_ptr_nonnull(prev);
    unsigned char background[3] = {0};
    for (uint32_t y = 0; y < s->height; y++) {
        int filter = raw[y * (stride + 1)];
        row = raw + y * (stride + 1) + 1;
        for (size_t i = 0; i < stride; i++) {
            int a = i >= (size_t)bpp ? row[i - bpp] : 0, b = prev[i],
                c = i >= (size_t)bpp ? prev[i - bpp] : 0;
            int add = filter == 1 ? a : filter == 2 ? b : filter == 3 ? (a + b) / 2
                    : filter == 4 ? paeth(a, b, c) : 0;
            ck_assert_int_le(filter, 4);
            row[i] = (unsigned char)(row[i] + add);
        }
        for (uint32_t x = 0; x < s->width; x++) {
            const unsigned char *p = row + (size_t)x * (size_t)bpp;
            if (x == 0 && y == 0)
                memcpy(background, p, 3);
            s->pixels++;
            s->not_background += memcmp(p, background, 3) != 0;
            s->bar_colour += p[0] == 0x4a && p[1] == 0x7a && p[2] == 0xb5;
        }
        memcpy(prev, row, stride);
    }
    free(prev);
    free(raw);
    free(idat);
}

/* The rows' first cells of the table with the given id, in page order. */
static int first_cells(const char *dom, const char *id, double *v, int max)
{
    char tag[64];
    snprintf(tag, sizeof tag, "id=\"%s\"", id);
    const char *at = strstr(dom, tag), *end = at ? strstr(at, "</table>") : NULL;
    ck_assert_ptr_nonnull(end);
    int n = 0;
    for (const char *p = strstr(at, "<tbody>"); n < max && (p = strstr(p, "<tr")) && p < end;
         p++) {
        const char *cell = strstr(p, "data-v=\"");
        ck_assert_ptr_nonnull(cell);
        v[n++] = strtod(cell + 8, NULL);
    }
    return n;
}

START_TEST(test_report_in_chromium)
{
    const char *exe = find_chromium();
    if (!exe)
        TS_SKIP("chromium is not on PATH (Debian package chromium; make test installs it)");
    check_control_page(exe);

    struct report_fx f;
    report_fx_init(&f, true);
    char *page = cf_tmp("report.html");
    char *errout = NULL;
    int rc = ts_run_quanta(cf_args("report %s %s --data %s --labels %s --no-latency -o %s",
                                   f.model, f.int8, f.images, f.labels, page),
                           NULL, &errout);
    ck_assert_msg(rc == 0, "report: %s", errout);
    free(errout);

    /* the page plus one click on the layer table's SQNR header */
    size_t size;
    char *html = ts_read_file(page, &size);
    ck_assert_ptr_nonnull(html);
    char *body_end = strstr(html, "</body>");
    ck_assert_ptr_nonnull(body_end);
    char *clicked = cf_tmp("clicked.html");
    FILE *fp = fopen(clicked, "w");
    ck_assert_ptr_nonnull(fp);
    fprintf(fp, "%.*s<script>document.querySelector('#layer-table thead th:nth-child(4)')"
                ".click();</script>%s", (int)(body_end - html), html, body_end);
    ck_assert_int_eq(fclose(fp), 0);
    free(html);

    char *dom_path = cf_tmp("report.dom"), *log_path = cf_tmp("report.log");
    ck_assert_int_eq(chromium(exe, "--dump-dom", clicked, dom_path, log_path), 0);
    char *dom = ts_read_file(dom_path, NULL), *log = ts_read_file(log_path, NULL);
    ck_assert_ptr_nonnull(dom);
    ck_assert_ptr_nonnull(log);
    ck_assert_msg(console_clean(log), "console messages: %s", log);
    ck_assert_ptr_null(strstr(dom, "data-errors=\"1\""));
    ck_assert_ptr_nonnull(strstr(dom, "<div id=\"js-errors\"></div>"));
    ck_assert_ptr_nonnull(strstr(dom, "data-script=\"done\""));
    int tables = rf_count(dom, NULL, "<table class=\"sortable\"");
    ck_assert_int_eq(tables, 4); /* summary x2, layers, classes */
    ck_assert_int_eq(rf_count(dom, NULL, "data-sortable=\"ready\""), tables);
    /* the tiny graph: 3 values both models compute, 2 weights */
    ck_assert_int_eq(rf_count(dom, NULL, "<svg class=\"chart hist act\""), 3);
    ck_assert_int_eq(rf_count(dom, NULL, "<svg class=\"chart hist weight\""), 2);
    const char *end;
    const char *bars = rf_element(dom, "<svg class=\"chart bars sqnr\"", "</svg>", &end);
    ck_assert_ptr_nonnull(bars);
    ck_assert_int_eq(rf_count(bars, end, "<rect class=\"bar"), 3);
    /* the click sorted the layers by SQNR, ascending */
    ck_assert_ptr_nonnull(strstr(dom, "aria-sort=\"ascending\""));
    double order[3];
    ck_assert_int_eq(first_cells(dom, "layer-table", order, 3), 3);
    double sqnr[3 * 7];
    ck_assert_int_eq(rf_table_cells(dom, "layer-table", sqnr, 21), 21);
    for (int i = 1; i < 3; i++)
        ck_assert_msg(sqnr[(i - 1) * 7 + 1] <= sqnr[i * 7 + 1], "row %d: %g after %g", i,
                      sqnr[i * 7 + 1], sqnr[(i - 1) * 7 + 1]);
    free(dom);
    free(log);

    char *png_path = cf_tmp("report.png");
    char what[1200];
    snprintf(what, sizeof what, "--screenshot=%s", png_path);
    ck_assert_int_eq(chromium(exe, what, page, dom_path, log_path), 0);
    unsigned char *png = (unsigned char *)ts_read_file(png_path, &size);
    ck_assert_msg(png != NULL, "no screenshot written");
    struct png_stats st;
    png_stats(png, size, &st);
    ck_assert_uint_eq(st.width, 1200);
    ck_assert_msg(st.not_background > st.pixels / 100, "blank screenshot: %lld of %lld pixels",
                  (long long)st.not_background, (long long)st.pixels);
    ck_assert_msg(st.bar_colour > 100, "no bars drawn: %lld pixels of their colour",
                  (long long)st.bar_colour);
    free(png);
    free(png_path);
    free(dom_path);
    free(log_path);
    free(clicked);
    free(page);
    report_fx_free(&f);
}
END_TEST

Suite *suite_cli_report_browser(void);
Suite *suite_cli_report_browser(void)
{
    Suite *s = suite_create("cli_report_browser");
    TCase *tc = tcase_create("browser");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_report_in_chromium);
    suite_add_tcase(s, tc);
    return s;
}

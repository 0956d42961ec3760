/* ONNX's backend test data (Debian package libonnx-testdata): every case of
 * data/{node,pytorch-converted,pytorch-operator,simple} is imported with
 * onnx_import_graph (what quanta import does), run by the float runner on
 * each test_data_set_N/input_K.pb and compared with output_K.pb.
 *
 * Cases run in child processes (fresh runs of this program, BATCH cases
 * each, as many at a time as there are CPUs, at most 4); a child that
 * crashes (a signal, a sanitizer report, a leak found when it exits) or
 * hangs has its cases run again one per child, so that the crash is put
 * down to its case and ends nothing else. Outcomes:
 *
 *   pass     every output of every data set within tolerance
 *   refused  the import or the runner returned an error; the report keeps
 *            its one-line message (the node, the operator, what is missing)
 *   wrong    it ran, but an output differs beyond tolerance or has another
 *            shape, or there are not as many outputs as expected
 *   crash    the child died of a signal, exited without a verdict or took
 *            longer than CASE_SECONDS
 *
 * Tolerance is ONNX's backend default (onnx/backend/test/runner, numpy
 * assert_allclose): |got - expected| <= ATOL + RTOL * |expected|, NaN equal
 * to NaN. Inputs are fed as quanta run --layout nchw does: a 4-D input
 * [N, C, H, W] is transposed to the graph's [N, H, W, C]; a 4-D output the
 * import holds NHWC (onnx_import_info.output_nhwc) is compared in that
 * order. The batch is the inputs' first dimension; when the inputs do not
 * agree on it, the case is imported again with every input's shape given
 * (quanta import --input-shape).
 *
 * At most MAX_SETS data sets of a case are run. The tally goes to stdout
 * and every case's line to $QUANTA_BUILD/onnx-backend.txt (build/ by
 * default; the Makefile sets it). The test fails on any wrong or crash,
 * and when a case of must_pass[] (what the importer was extended for, so
 * that a refusal coming back is seen) does not pass; make test and make
 * test-asan run it like every suite. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "import/onnx_model.h"
#include "quanta/onnx_import.h"
#include "quanta/quanta.h"
#include "support/test_support.h"

#define DATA_ROOT "/usr/share/libonnx-testdata/data"
#define RTOL 1e-3
#define ATOL 1e-7
#define CASE_SECONDS 120
#define MAX_IO 16
#define MAX_SETS 16
#define VERDICT_MAX 1024

static const char *const dirs[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};
#define N_DIRS (int)(sizeof dirs / sizeof dirs[0])

enum outcome { OUT_PASS, OUT_REFUSED, OUT_WRONG, OUT_CRASH, OUT_COUNT };
static const char *const outcome_names[] = {"pass", "refused", "wrong", "crash"};

/* ---- one case (in the child) --------------------------------------------- */

struct data_set {
    struct onnx_tensor in[MAX_IO], out[MAX_IO];
    int n_in, n_out;
};

static void sets_free(struct data_set *sets, int n)
{
    for (int s = 0; s < n; s++) {
        for (int k = 0; k < sets[s].n_in; k++)
            onnx_tensor_free(&sets[s].in[k]);
        for (int k = 0; k < sets[s].n_out; k++)
            onnx_tensor_free(&sets[s].out[k]);
    }
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_data_set(const struct dirent *e)
{
    return strncmp(e->d_name, "test_data_set_", 14) == 0;
}

static int is_case(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

/* Reads prefix_0.pb, prefix_1.pb, ... of folder dir into t[]. */
static enum quanta_status load_tensors(const char *dir, const char *prefix,
                                       struct onnx_tensor *t, int *n, char *verdict)
{
    *n = 0;
    for (int k = 0;; k++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s_%d.pb", dir, prefix, k);
        if (access(path, F_OK) != 0)
            return QUANTA_OK;
        if (k == MAX_IO) {
            snprintf(verdict, VERDICT_MAX, "R more than %d %ss", MAX_IO, prefix);
            return QUANTA_ERR_INPUT;
        }
        struct quanta_error err;
        quanta_error_clear(&err);
        if (onnx_tensor_load(&t[k], path, &err) != QUANTA_OK) {
            snprintf(verdict, VERDICT_MAX, "R %s", err.message);
            return QUANTA_ERR_INPUT;
        }
        *n = k + 1;
    }
}

/* The message without its leading "<path>: ". */
static const char *short_message(const char *msg, const char *path)
{
    size_t n = strlen(path);
    if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        return msg + n + 2;
    return msg;
}

static double tensor_at(const struct onnx_tensor *t, int64_t k)
{
    return t->dtype == QUANTA_F32 ? (double)((const float *)t->data)[k]
                                  : (double)((const int64_t *)t->data)[k];
}

/* A data file's message with dir/ taken off its path. */
static const char *in_case(const char *msg, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(msg, dir, n) == 0 && msg[n] == '/' ? msg + n + 1 : msg;
}

static bool close_enough(double got, double want)
{
    if (isnan(want) || isnan(got))
        return isnan(want) && isnan(got);
    if (isinf(want) || isinf(got))
        return got == want;
    return fabs(got - want) <= ATOL + RTOL * fabs(want);
}

/* The quanta dtype of an ONNX element type, INVALID for those without one. */
static enum quanta_dtype quanta_of(int data_type)
{
    switch (data_type) {
    case ONNX_FLOAT: return QUANTA_F32;
    case ONNX_DOUBLE: return QUANTA_F64;
    case ONNX_FLOAT16: return QUANTA_F16;
    case ONNX_BFLOAT16: return QUANTA_BF16;
    case ONNX_UINT8: return QUANTA_U8;
    case ONNX_INT8: return QUANTA_I8;
    case ONNX_INT16: return QUANTA_I16;
    case ONNX_INT32: return QUANTA_I32;
    case ONNX_INT64: return QUANTA_I64;
    case ONNX_BOOL: return QUANTA_BOOL;
    case ONNX_UINT16: return QUANTA_U16;
    case ONNX_UINT32: return QUANTA_U32;
    case ONNX_UINT64: return QUANTA_U64;
    default: return QUANTA_DTYPE_INVALID;
    }
}

/* The runner's feed for input tensor t of graph input value v: float or
 * int64, 4-D NCHW transposed to NHWC. NULL (verdict set) when it does not
 * fit. */
static void *make_feed(const struct graph *g, int i, const struct onnx_tensor *t,
                       int64_t batch, char *verdict)
{
    int v = g->inputs[i].value;
    const struct graph_value *gv = &g->values[v];
    struct quanta_shape want = graph_value_shape(g, v, batch);
    struct quanta_shape have = t->shape;
    if (have.rank == 4) /* NCHW data, NHWC graph */
        have = (struct quanta_shape){4, {t->shape.dims[0], t->shape.dims[2], t->shape.dims[3],
                                         t->shape.dims[1]}};
    if (!quanta_shape_equal(&have, &want)) {
        char a[128], b[128];
        snprintf(verdict, VERDICT_MAX, "W input %d '%s' has shape %s but the graph needs %s", i,
                 gv->name, quanta_shape_format(&t->shape, a, sizeof a),
                 quanta_shape_format(&want, b, sizeof b));
        return NULL;
    }
    bool integer = gv->dtype == QUANTA_I64 || gv->dtype == QUANTA_I32;
    /* integer and BOOL data of a float input (a declared U8, I8, I16 or
     * BOOL) is fed as float, as the data feed does */
    if (quanta_of(t->data_type) != graph_input_dtype(g, i)) {
        /* the import took the model's declared type; older test data
         * stores BFLOAT16 inputs as UINT16 bit patterns, which no feed
         * reads as numbers */
        bool bits = t->data_type == ONNX_UINT16 && graph_input_dtype(g, i) == QUANTA_BF16;
        snprintf(verdict, VERDICT_MAX, "%c input %d '%s': data type %s for a %s graph input",
                 bits ? 'R' : 'W', i, gv->name, onnx_data_type_name(t->data_type),
                 quanta_dtype_name(graph_input_dtype(g, i)));
        return NULL;
    }
    size_t n = (size_t)t->numel;
    if (integer) {
        int64_t *out = malloc((n + 1) * sizeof *out);
        if (out)
            memcpy(out, t->data, n * sizeof *out);
        return out;
    }
    float *out = malloc((n + 1) * sizeof *out);
    float *conv = t->dtype == QUANTA_I64 ? malloc((n + 1) * sizeof *conv) : NULL;
    if (!out || (t->dtype == QUANTA_I64 && !conv)) {
        free(out);
        free(conv);
        return NULL;
    }
    for (size_t k = 0; conv && k < n; k++)
        conv[k] = (float)((const int64_t *)t->data)[k];
    const float *src = conv ? conv : t->data;
    if (t->shape.rank != 4) {
        memcpy(out, src, n * sizeof *out);
        free(conv);
        return out;
    }
    int64_t c = t->shape.dims[1], h = t->shape.dims[2], w = t->shape.dims[3];
    for (int64_t b = 0; b < t->shape.dims[0]; b++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t y = 0; y < h; y++)
                for (int64_t x = 0; x < w; x++)
                    out[((b * h + y) * w + x) * c + ch] = src[((b * c + ch) * h + y) * w + x];
    free(conv);
    return out;
}

/* Compares graph output k with the expected tensor; writes a W verdict. */
static bool compare_output(const struct graph *g, int k, const float *got,
                           const struct quanta_shape *got_shape, bool nhwc,
                           const struct onnx_tensor *want, int set, char *verdict)
{
    const char *name = g->values[g->outputs[k]].name;
    struct quanta_shape expect = want->shape;
    if (nhwc)
        expect = (struct quanta_shape){4, {want->shape.dims[0], want->shape.dims[2],
                                           want->shape.dims[3], want->shape.dims[1]}};
    if (!quanta_shape_equal(&expect, got_shape)) {
        char a[128], b[128];
        snprintf(verdict, VERDICT_MAX, "W data set %d output %d '%s': shape %s%s, expected %s",
                 set, k, name, quanta_shape_format(got_shape, a, sizeof a), nhwc ? " (NHWC)" : "",
                 quanta_shape_format(&want->shape, b, sizeof b));
        return false;
    }
    int64_t bad = 0;
    double worst = -1, worst_got = 0, worst_want = 0;
    int64_t worst_at = -1;
    for (int64_t j = 0; j < want->numel; j++) {
        int64_t src = j; /* index into the expected (ONNX order) tensor */
        if (nhwc) {
            int64_t c = want->shape.dims[1], h = want->shape.dims[2], w = want->shape.dims[3];
            int64_t ch = j % c, x = j / c % w, y = j / c / w % h, b = j / c / w / h;
            src = ((b * c + ch) * h + y) * w + x;
        }
        double e = tensor_at(want, src), gv = got[j];
        if (close_enough(gv, e))
            continue;
        bad++;
        double d = isnan(e) || isnan(gv) ? INFINITY : fabs(gv - e);
        if (d > worst) {
            worst = d;
            worst_at = src;
            worst_got = gv;
            worst_want = e;
        }
    }
    if (bad == 0)
        return true;
    snprintf(verdict, VERDICT_MAX,
             "W data set %d output %d '%s': %lld of %lld elements beyond tolerance; worst at "
             "%lld: got %.9g, expected %.9g",
             set, k, name, (long long)bad, (long long)want->numel, (long long)worst_at, worst_got,
             worst_want);
    return false;
}

/* Do the inputs of a data set agree on the first dimension (the batch)? */
static bool same_batch(const struct data_set *ds)
{
    for (int k = 0; k < ds->n_in; k++)
        if (ds->in[k].shape.rank < 1 ||
            ds->in[k].shape.dims[0] != ds->in[0].shape.dims[0])
            return false;
    return true;
}

/* onnx_import_graph with --input-shape NAME=<shape of ds's input> for
 * every graph input. */
static enum quanta_status import_fixed(const char *model, const struct data_set *ds,
                                       struct graph *g, struct onnx_import_info *info,
                                       struct quanta_error *err)
{
    struct onnx_model m;
    enum quanta_status st = onnx_model_load(&m, model, err);
    if (st)
        return st;
    struct onnx_input_shape shapes[MAX_IO];
    struct onnx_import_options opt;
    memset(&opt, 0, sizeof opt);
    int k = 0;
    for (int i = 0; i < m.graph.n_inputs && k < ds->n_in; i++) {
        bool init = false;
        for (int j = 0; j < m.graph.n_initializers && !init; j++)
            init = strcmp(m.graph.initializers[j].name, m.graph.inputs[i].name) == 0;
        if (init)
            continue;
        shapes[k].name = m.graph.inputs[i].name;
        shapes[k].shape = ds->in[k].shape;
        k++;
    }
    opt.input_shapes = shapes;
    opt.n_input_shapes = k;
    st = onnx_import_graph(g, info, model, &opt, err);
    onnx_model_free(&m);
    return st;
}

/* Runs case folder dir; writes "P", "R <reason>" or "W <reason>". */
static void run_case(const char *dir, char *verdict)
{
    char model[1300];
    struct data_set sets[MAX_SETS];
    int n_sets = 0;
    struct dirent **names = NULL;
    struct graph g;
    struct onnx_import_info info;
    struct runner *r = NULL;
    void *feeds[MAX_IO] = {0};
    struct quanta_error err;
    bool imported = false;
    quanta_error_clear(&err);
    memset(&g, 0, sizeof g);
    memset(&info, 0, sizeof info);
    snprintf(verdict, VERDICT_MAX, "R no verdict");

    int n_names = scandir(dir, &names, is_data_set, by_name);
    if (n_names < 1) {
        snprintf(verdict, VERDICT_MAX, "R no test_data_set_* folder");
        goto done;
    }
    /* A data file that is no tensor (sequences, optionals) or of a type
     * quanta does not read is reported after the import had its say. */
    char data_error[VERDICT_MAX] = "";
    for (int s = 0; s < n_names && s < MAX_SETS && !data_error[0]; s++) {
        char path[1500];
        snprintf(path, sizeof path, "%s/%s", dir, names[s]->d_name);
        struct data_set *ds = &sets[n_sets++];
        memset(ds, 0, sizeof *ds);
        if (load_tensors(path, "input", ds->in, &ds->n_in, data_error) ||
            load_tensors(path, "output", ds->out, &ds->n_out, data_error))
            break;
    }

    /* As quanta import does; again with every input's shape given (quanta
     * import --input-shape) when the inputs do not share a batch size, or
     * when the import with any batch size was refused (an operator along
     * the batch axis runs once that axis has a fixed size). */
    snprintf(model, sizeof model, "%s/model.onnx", dir);
    bool fixed = false;
    enum quanta_status st = onnx_import_graph(&g, &info, model, NULL, &err);
    if (!data_error[0] && n_sets > 0 &&
        ((st == QUANTA_OK && !same_batch(&sets[0])) || st == QUANTA_ERR_INPUT)) {
        if (st == QUANTA_OK) {
            graph_free(&g);
            onnx_import_info_free(&info);
        }
        struct quanta_error first = err;
        fixed = true;
        quanta_error_clear(&err);
        st = import_fixed(model, &sets[0], &g, &info, &err);
        if (st != QUANTA_OK && first.status == QUANTA_ERR_INPUT) {
            err = first; /* the fixed shapes did not help: the first reason */
            fixed = false;
        }
    }
    if (st != QUANTA_OK) {
        snprintf(verdict, VERDICT_MAX, "R %s%s", short_message(err.message, model),
                 fixed ? " (with every input's shape given)" : "");
        goto done;
    }
    imported = true;
    if (data_error[0]) {
        snprintf(verdict, VERDICT_MAX, "R test data: %.900s", in_case(data_error + 2, dir));
        goto done;
    }

    for (int s = 0; s < n_sets; s++) {
        struct data_set *ds = &sets[s];
        if (ds->n_in != g.n_inputs) {
            snprintf(verdict, VERDICT_MAX, "W data set %d has %d inputs, the graph %d", s,
                     ds->n_in, g.n_inputs);
            goto done;
        }
        int64_t batch = ds->in[0].shape.rank > 0 ? ds->in[0].shape.dims[0] : 1;
        if (batch < 1) {
            snprintf(verdict, VERDICT_MAX, "R data set %d has an empty batch", s);
            goto done;
        }
        for (int k = 0; k < ds->n_in; k++) {
            free(feeds[k]);
            if (!(feeds[k] = make_feed(&g, k, &ds->in[k], batch, verdict)))
                goto done;
        }
        runner_free(r);
        r = NULL;
        struct runner_options ro = {.max_batch = batch, .threads = 1};
        if (runner_create(&r, &g, &ro, &err) != QUANTA_OK ||
            runner_run(r, batch, (const void *const *)feeds, &err) != QUANTA_OK) {
            snprintf(verdict, VERDICT_MAX, "R run: %s", err.message);
            goto done;
        }
        if (ds->n_out != g.n_outputs) {
            snprintf(verdict, VERDICT_MAX, "W data set %d expects %d outputs, the graph has %d",
                     s, ds->n_out, g.n_outputs);
            goto done;
        }
        for (int k = 0; k < g.n_outputs; k++) {
            struct quanta_shape shape;
            const float *y = runner_output(r, k, &shape);
            if (!compare_output(&g, k, y, &shape, info.output_nhwc[k], &ds->out[k], s, verdict))
                goto done;
        }
    }
    snprintf(verdict, VERDICT_MAX, "P%s", fixed ? " with every input's shape given" : "");
done:
    for (int k = 0; k < MAX_IO; k++)
        free(feeds[k]);
    runner_free(r);
    if (imported) {
        graph_free(&g);
        onnx_import_info_free(&info);
    }
    sets_free(sets, n_sets);
    for (int k = 0; k < n_names; k++)
        free(names[k]);
    free(names);
}

/* ---- the driver (parent) -------------------------------------------------- */

/* One case and its outcome. */
struct job {
    int dir;                    /* index into dirs[] */
    char name[256];
    bool done;
    enum outcome outcome;
    char detail[VERDICT_MAX + 64];
};

/* A child runs `count` cases from jobs[first] on, one after another (the
 * start-up of a sanitized process costs more than most cases). When it
 * does not end cleanly (a signal, a time-out, a leak report at exit), its
 * cases run again one per child, so the outcome names the case. */
#define BATCH 8

struct task {
    int first, count;
    pid_t pid;
    int fd;                     /* read end of the child's verdict pipe */
};

static struct job *jobs;
static int n_jobs;
static struct task *tasks;
static int n_tasks;
static char report_path[1024];

/* The child is a fresh run of this program (exec'd, so that it does not
 * carry the parent's memory, which LeakSanitizer would scan at exit) with
 * CASE_ENV holding the case folders, one a line, and FD_ENV the pipe for
 * the verdicts, "<k> <verdict>" a line. */
#define CASE_ENV "QUANTA_ONNX_BACKEND_CASES"
#define FD_ENV "QUANTA_ONNX_BACKEND_FD"

/* Spawns the child of task t (posix_spawn, not fork: under qemu-aarch64
 * 7.2 a fork()ed child hangs) with fd, the pipe's write end, inherited.
 * Returns its pid, -1 when it could not start. */
static pid_t spawn_child(const struct task *t, int fd)
{
    char *list = malloc((size_t)t->count * 1200 + 1), fd_var[64];
    size_t n_env = 0;
    while (environ[n_env])
        n_env++;
    char **envp = calloc(n_env + 4, sizeof *envp);
    char *case_var = malloc((size_t)t->count * 1200 + sizeof CASE_ENV + 1);
    pid_t pid = -1;
    if (list && envp && case_var) {
        size_t len = 0;
        for (int k = 0; k < t->count; k++) {
            const struct job *j = &jobs[t->first + k];
            len += (size_t)snprintf(list + len, 1200, "%s/%s/%s\n", DATA_ROOT, dirs[j->dir],
                                    j->name);
        }
        sprintf(case_var, "%s=%s", CASE_ENV, list);
        snprintf(fd_var, sizeof fd_var, "%s=%d", FD_ENV, fd);
        size_t n = 0;
        for (size_t i = 0; i < n_env; i++)
            if (strncmp(environ[i], CASE_ENV "=", sizeof CASE_ENV) != 0 &&
                strncmp(environ[i], FD_ENV "=", sizeof FD_ENV) != 0 &&
                strncmp(environ[i], "CK_FORK=", 8) != 0)
                envp[n++] = environ[i];
        envp[n++] = case_var;
        envp[n++] = fd_var;
        envp[n++] = (char *)"CK_FORK=no";
        envp[n] = NULL;
        posix_spawn_file_actions_t fa;
        char *argv[] = {(char *)"quanta-tests", (char *)"onnx_backend", NULL};
        if (posix_spawn_file_actions_init(&fa) == 0) {
            /* stdout: Check's "Running suite" lines */
            if (posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0) ==
                    0 &&
                posix_spawn(&pid, ts_self_exe(), &fa, NULL, argv, envp) != 0)
                pid = -1;
            posix_spawn_file_actions_destroy(&fa);
        }
    }
    free(case_var);
    free(envp);
    free(list);
    return pid;
}

static void write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w <= 0)
            _exit(125);
        p += w;
        len -= (size_t)w;
    }
}

/* In the exec'd child: runs the case folders of list, writes the verdicts
 * to fd, exits. */
static void child_main(const char *list, int fd)
{
    /* the time limit kills this child only (a handler of Check's would
     * kill the whole process group) */
    signal(SIGALRM, SIG_DFL);
    char *verdict = malloc(VERDICT_MAX), line[VERDICT_MAX + 32], dir[1200];
    if (!verdict)
        _exit(1);
    for (int k = 0; *list; k++) {
        const char *nl = strchr(list, '\n');
        size_t n = nl ? (size_t)(nl - list) : strlen(list);
        snprintf(dir, sizeof dir, "%.*s", (int)n, list);
        list += n + (nl != NULL);
        alarm(CASE_SECONDS);
        run_case(dir, verdict);
        for (char *c = verdict; *c; c++)
            if (*c == '\n')
                *c = ' ';
        int len = snprintf(line, sizeof line, "%d %s\n", k, verdict);
        write_all(fd, line, (size_t)len);
    }
    close(fd);
    free(verdict);
    exit(0); /* through exit: LeakSanitizer checks the cases */
}

static void start_task(struct task *t)
{
    int fd[2];
    t->pid = -1;
    if (pipe(fd) != 0 || fcntl(fd[0], F_SETFD, FD_CLOEXEC) != 0)
        return;
    fflush(NULL);
    const pid_t pid = spawn_child(t, fd[1]);
    close(fd[1]);
    if (pid < 0) {
        close(fd[0]);
        return;
    }
    t->pid = pid;
    t->fd = fd[0];
}

static void add_task(int first, int count)
{
    tasks[n_tasks++] = (struct task){first, count, 0, -1};
}

/* Reads the verdicts of an ended child (its pipe holds them all). */
static void finish_task(struct task *t, int status)
{
    size_t cap = (size_t)t->count * (VERDICT_MAX + 32) + 1, got = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    for (;;) {
        ssize_t n = read(t->fd, buf + got, cap - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        if (got == cap - 1)
            break;
    }
    buf[got] = '\0';
    close(t->fd);
    t->pid = 0;
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!clean && t->count > 1) {
        for (int k = 0; k < t->count; k++) /* again, one case a child */
            add_task(t->first + k, 1);
        free(buf);
        return;
    }
    int seen = 0;
    for (char *line = buf; *line;) {
        char *nl = strchr(line, '\n');
        if (!nl)
            break;
        *nl = '\0';
        char *v;
        long k = strtol(line, &v, 10);
        if (k >= 0 && k < t->count && *v == ' ') {
            struct job *j = &jobs[t->first + k];
            v++;
            j->done = true;
            j->outcome = v[0] == 'P' ? OUT_PASS : v[0] == 'W' ? OUT_WRONG : OUT_REFUSED;
            snprintf(j->detail, sizeof j->detail, "%s", v[1] == ' ' ? v + 2 : v + 1);
            seen++;
        }
        line = nl + 1;
    }
    if (!clean || seen < t->count) { /* a single case */
        struct job *j = &jobs[t->first];
        char what[128];
        if (WIFSIGNALED(status))
            snprintf(what, sizeof what, "%s (signal %d)",
                     WTERMSIG(status) == SIGALRM ? "timeout" : strsignal(WTERMSIG(status)),
                     WTERMSIG(status));
        else
            snprintf(what, sizeof what, "exit status %d%s", WIFEXITED(status) ?
                     WEXITSTATUS(status) : -1, j->done ? " after its verdict" : "");
        char prev[VERDICT_MAX + 64];
        snprintf(prev, sizeof prev, "%s", j->done ? j->detail : "");
        j->done = true;
        j->outcome = OUT_CRASH;
        snprintf(j->detail, sizeof j->detail, "%s%s%.900s", what, prev[0] ? ": " : "", prev);
    }
    free(buf);
}

/* Runs every task, up to `parallel` children at a time. */
static void run_tasks(int parallel)
{
    int next = 0, running = 0;
    while (next < n_tasks || running > 0) {
        while (running < parallel && next < n_tasks) {
            struct task *t = &tasks[next++];
            start_task(t);
            if (t->pid > 0) {
                running++;
            } else {
                struct job *j = &jobs[t->first];
                j->done = true;
                j->outcome = OUT_CRASH;
                snprintf(j->detail, sizeof j->detail, "pipe or spawn failed");
            }
        }
        if (running == 0)
            continue;
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            ck_abort_msg("waitpid: %s", strerror(errno));
        }
        for (int i = 0; i < n_tasks; i++)
            if (tasks[i].pid == pid) {
                finish_task(&tasks[i], status);
                running--;
                break;
            }
    }
}

static void list_jobs(void)
{
    n_jobs = 0;
    for (int d = 0; d < N_DIRS; d++) {
        char root[900];
        snprintf(root, sizeof root, "%s/%s", DATA_ROOT, dirs[d]);
        struct dirent **names = NULL;
        int n = scandir(root, &names, is_case, by_name);
        ck_assert_msg(n > 0, "no cases in %s", root);
        struct job *p = realloc(jobs, (size_t)(n_jobs + n) * sizeof *p);
        ck_assert_ptr_nonnull(p);
        jobs = p;
        for (int i = 0; i < n; i++) {
            struct job *j = &jobs[n_jobs++];
            memset(j, 0, sizeof *j);
            j->dir = d;
            snprintf(j->name, sizeof j->name, "%s", names[i]->d_name);
            free(names[i]);
        }
        free(names);
    }
    /* batches, and room for every case again on its own */
    tasks = calloc((size_t)(n_jobs / BATCH + 1 + n_jobs), sizeof *tasks);
    ck_assert_ptr_nonnull(tasks);
    n_tasks = 0;
    for (int i = 0; i < n_jobs; i += BATCH)
        add_task(i, n_jobs - i < BATCH ? n_jobs - i : BATCH);
}

/* Cases that pass and must keep passing (a refusal is no failure of the
 * tally above, so a regression to one would go unseen otherwise). */
static const char *const must_pass[] = {
    "node/test_averagepool_1d_default",
    "node/test_maxpool_1d_default",
    "node/test_averagepool_2d_pads_count_include_pad",
    "node/test_averagepool_2d_precomputed_pads_count_include_pad",
    "pytorch-converted/test_AvgPool1d",
    "pytorch-converted/test_AvgPool1d_stride",
    "pytorch-converted/test_Conv1d",
    "pytorch-converted/test_Conv1d_dilated",
    "pytorch-converted/test_Conv1d_groups",
    "pytorch-converted/test_Conv1d_pad1",
    "pytorch-converted/test_Conv1d_pad2",
    "pytorch-converted/test_Conv1d_stride",
    "pytorch-converted/test_ConvTranspose2d",
    "pytorch-converted/test_ConvTranspose2d_no_bias",
    "pytorch-operator/test_operator_convtranspose",
    "node/test_max_uint16",
    "node/test_min_uint16",
    /* along the batch axis once every input's shape is given */
    "node/test_argmax_default_axis_random",
    "node/test_argmin_default_axis_example_select_last_index",
    "node/test_concat_1d_axis_0",
    "node/test_concat_2d_axis_0",
    "node/test_concat_3d_axis_negative_3",
    "node/test_flatten_axis0",
    "node/test_flatten_axis3",
    "node/test_flatten_negative_axis2",
    "node/test_logsoftmax_axis_0",
    "node/test_reduce_l2_default_axes_keepdims_random",
    "node/test_reduce_max_default_axes_keepdims_random",
    "node/test_reduce_mean_default_axes_keepdims_example",
    "node/test_softmax_axis_0",
    "node/test_split_equal_parts_1d",
    "node/test_transpose_all_permutations_5",
    "node/test_transpose_default",
    "node/test_matmul_2d",
    "node/test_mvn_expanded",
    "pytorch-operator/test_operator_chunk",
    /* 3-D convolution and pooling */
    "node/test_averagepool_3d_default",
    "node/test_maxpool_3d_default",
    "pytorch-converted/test_AvgPool3d",
    "pytorch-converted/test_AvgPool3d_stride",
    "pytorch-converted/test_AvgPool3d_stride1_pad0_gpu_input",
    "pytorch-converted/test_Conv3d",
    "pytorch-converted/test_Conv3d_dilated",
    "pytorch-converted/test_Conv3d_dilated_strided",
    "pytorch-converted/test_Conv3d_groups",
    "pytorch-converted/test_Conv3d_no_bias",
    "pytorch-converted/test_Conv3d_stride",
    "pytorch-converted/test_Conv3d_stride_padding",
    "pytorch-converted/test_MaxPool3d",
    "pytorch-converted/test_MaxPool3d_stride",
    "pytorch-converted/test_MaxPool3d_stride_padding",
};

START_TEST(test_backend_data)
{
    const char *list = getenv(CASE_ENV), *fd = getenv(FD_ENV);
    if (list && fd)
        child_main(list, atoi(fd)); /* does not return */
    struct stat sb;
    ck_assert_msg(stat(DATA_ROOT, &sb) == 0,
                  "%s is missing: install the Debian package libonnx-testdata", DATA_ROOT);
    const char *b = getenv("QUANTA_BUILD");
    if (b && *b)
        snprintf(report_path, sizeof report_path, "%s/onnx-backend.txt", b);
    else
        snprintf(report_path, sizeof report_path, "%s/build/onnx-backend.txt", ts_src_dir());
    list_jobs();
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int parallel = cpus < 1 ? 1 : cpus > 4 ? 4 : (int)cpus;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run_tasks(parallel);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;

    FILE *report = fopen(report_path, "w");
    ck_assert_msg(report != NULL, "cannot write %s: %s", report_path, strerror(errno));
    fprintf(report, "# ONNX backend test data (%s), rtol %g, atol %g\n"
                    "# case<TAB>outcome<TAB>reason\n",
            DATA_ROOT, RTOL, ATOL);
    int tally[N_DIRS + 1][OUT_COUNT] = {{0}};
    char failures[4096] = "";
    size_t flen = 0;
    int must_fail = 0;
    for (int i = 0; i < n_jobs; i++) {
        struct job *j = &jobs[i];
        if (!j->done) {
            j->outcome = OUT_CRASH;
            snprintf(j->detail, sizeof j->detail, "no verdict");
        }
        tally[j->dir][j->outcome]++;
        tally[N_DIRS][j->outcome]++;
        fprintf(report, "%s/%s\t%s\t%s\n", dirs[j->dir], j->name, outcome_names[j->outcome],
                j->detail);
        if ((j->outcome == OUT_WRONG || j->outcome == OUT_CRASH) && flen < sizeof failures - 1)
            flen += (size_t)snprintf(failures + flen, sizeof failures - flen, "\n  %s/%s: %s: %s",
                                     dirs[j->dir], j->name, outcome_names[j->outcome], j->detail);
    }
    for (size_t m = 0; m < sizeof must_pass / sizeof must_pass[0]; m++) {
        const struct job *found = NULL;
        char full[512];
        for (int i = 0; i < n_jobs && !found; i++) {
            snprintf(full, sizeof full, "%s/%s", dirs[jobs[i].dir], jobs[i].name);
            if (strcmp(full, must_pass[m]) == 0)
                found = &jobs[i];
        }
        if (flen < sizeof failures - 1 && (!found || found->outcome != OUT_PASS)) {
            flen += (size_t)snprintf(failures + flen, sizeof failures - flen,
                                     "\n  %s: must pass, %s%s%s", must_pass[m],
                                     found ? outcome_names[found->outcome] : "not found",
                                     found ? ": " : "", found ? found->detail : "");
            must_fail++;
        }
    }
    printf("ONNX backend test data (%s), rtol %g, atol %g, %.1f s with %d at a time:\n",
           DATA_ROOT, RTOL, ATOL, secs, parallel);
    printf("  %-18s %6s %6s %8s %6s %6s\n", "folder", "cases", "pass", "refused", "wrong",
           "crash");
    fprintf(report, "# tally\n");
    for (int d = 0; d <= N_DIRS; d++) {
        const int *t = tally[d];
        char line[256];
        snprintf(line, sizeof line, "  %-18s %6d %6d %8d %6d %6d", d < N_DIRS ? dirs[d] : "total",
                 t[0] + t[1] + t[2] + t[3], t[OUT_PASS], t[OUT_REFUSED], t[OUT_WRONG],
                 t[OUT_CRASH]);
        printf("%s\n", line);
        fprintf(report, "#%s\n", line);
    }
    printf("  per case: %s\n", report_path);
    fflush(stdout);
    fclose(report);
    free(jobs);
    jobs = NULL;
    free(tasks);
    tasks = NULL;
    ck_assert_msg(tally[N_DIRS][OUT_WRONG] == 0 && tally[N_DIRS][OUT_CRASH] == 0 && must_fail == 0,
                  "%d wrong, %d crashed, %d of must_pass[] did not pass:%s",
                  tally[N_DIRS][OUT_WRONG], tally[N_DIRS][OUT_CRASH], must_fail, failures);
}
END_TEST

Suite *suite_onnx_backend(void);
Suite *suite_onnx_backend(void)
{
    Suite *s = suite_create("onnx_backend");
    TCase *tc = tcase_create("backend_data");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_backend_data);
    suite_add_tcase(s, tc);
    return s;
}

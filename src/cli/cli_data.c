#include "cli/cli_data.h"
#include "quanta/calib.h"
#include "cli/cli.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

bool cli_parse_layout(const char *text, enum quanta_layout *out)
{
    if (strcmp(text, "nhwc") == 0)
        *out = QUANTA_LAYOUT_NHWC;
    else if (strcmp(text, "nchw") == 0)
        *out = QUANTA_LAYOUT_NCHW;
    else
        return false;
    return true;
}

int64_t cli_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

enum quanta_status cli_json_print(cJSON *root, struct quanta_error *err)
{
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory printing json");
    fputs(text, stdout);
    fputc('\n', stdout);
    cJSON_free(text);
    return QUANTA_OK;
}

int cli_option_error(const char *command, const char *usage, int c, char **argv)
{
    const char *opt = optind > 0 ? argv[optind - 1] : "";
    char short_opt[3] = {'-', (char)optopt, '\0'};
    if (optopt > 0 && optopt < 128 && opt[0] == '-' && opt[1] != '-')
        opt = short_opt;
    if (c == ':')
        return cli_usage_error(command, usage, "option '%s' needs a value", opt);
    return cli_usage_error(command, usage, "unknown option '%s'", opt);
}

int cli_opt_batch(const char *command, const char *usage, const char *text, int64_t *out)
{
    if (!cli_parse_i64(text, 1, 1 << 20, out))
        return cli_usage_error(command, usage, "--batch '%s' is not a number in [1, 1048576]",
                               text);
    return 0;
}

int cli_opt_samples(const char *command, const char *usage, const char *text, int64_t *out)
{
    if (!cli_parse_i64(text, 1, INT64_MAX, out))
        return cli_usage_error(command, usage, "--samples '%s' is not a number >= 1", text);
    return 0;
}

int cli_opt_threads(const char *command, const char *usage, const char *text, int64_t *out)
{
    if (!cli_parse_i64(text, 0, 1024, out))
        return cli_usage_error(command, usage, "--threads '%s' is not a number in [0, 1024]",
                               text);
    return 0;
}

int cli_opt_layout(const char *command, const char *usage, const char *text, int *out)
{
    enum quanta_layout layout;
    if (!cli_parse_layout(text, &layout))
        return cli_usage_error(command, usage, "--layout '%s' is not nchw or nhwc", text);
    *out = (int)layout;
    return 0;
}

enum quanta_layout cli_layout(int given, const struct model *m)
{
    if (given >= 0)
        return (enum quanta_layout)given;
    return model_data_nchw(m) ? QUANTA_LAYOUT_NCHW : QUANTA_LAYOUT_NHWC;
}

int cli_one_model(const char *command, const char *usage, int argc, char **argv,
                  const char **model)
{
    if (argc - optind != 1)
        return cli_usage_error(command, usage, "%s",
                               argc - optind < 1 ? "a model file is needed"
                                                 : "only one model file is taken");
    *model = argv[optind];
    return 0;
}

int cli_output_not_input(const char *command, const char *usage, const char *output,
                         const char *input1, const char *input2)
{
    struct quanta_error err;
    quanta_error_clear(&err);
    if ((input1 && safe_file_check_not_input(output, input1, &err) != QUANTA_OK) ||
        (input2 && safe_file_check_not_input(output, input2, &err) != QUANTA_OK))
        return cli_usage_error(command, usage, "%s", err.message);
    return 0;
}

enum quanta_status cli_model_open_graph(struct model *m, const char *path, const char *why,
                                        struct quanta_error *err)
{
    enum quanta_status st = model_open(m, path, err);
    if (st != QUANTA_OK || m->has_graph)
        return st;
    model_close(m);
    return quanta_fail(err, QUANTA_ERR_INPUT, "%s: has no graph%s", path, why);
}

void cli_warn_skipped(const char *command, const struct data_feed *feed)
{
    char line[1024];
    if (*data_feed_skipped_note(feed, line, sizeof line))
        fprintf(stderr, "quanta %s: warning: %s\n", command, line);
}

void cli_warn_nonfinite(const char *command, const char *source, const struct calib_table *t)
{
    for (int i = 0; i < t->n_values; i++) {
        char line[1024];
        if (t->values[i].nonfinite > 0) {
            calib_nonfinite_format(&t->values[i], source, line, sizeof line);
            fprintf(stderr, "quanta %s: warning: %s\n", command, line);
        }
    }
}

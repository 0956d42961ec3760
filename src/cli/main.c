/* quanta: entry point and command table. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "quanta/runtime.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
#define CLI_ENTRY(name, summary) {#name, cmd_##name, summary},
    CLI_COMMAND_LIST(CLI_ENTRY)
#undef CLI_ENTRY
};

static const size_t n_commands = sizeof commands / sizeof commands[0];

static int print_help(FILE *out)
{
    fprintf(out, "usage: quanta <command> [options]\n"
                 "       quanta --version\n\n"
                 "commands:\n");
    for (size_t i = 0; i < n_commands; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'quanta <command> --help' describes a command; see man quanta(1).\n");
    return 0;
}

static int print_version(void)
{
    printf("quanta %s\n", QUANTA_VERSION);
    char cpu[128];
    runtime_cpu_describe(cpu, sizeof cpu);
    struct quanta_error err = {0};
    const char *level;
    if (runtime_kernels(&level, &err) == QUANTA_OK)
        printf("kernels: %s (cpu: %s)\n", level, cpu);
    else
        printf("kernels: none: %s (cpu: %s)\n", err.message, cpu);
    return 0;
}

int main(int argc, char **argv)
{
    safe_file_install_signal_cleanup();
    if (argc < 2) {
        print_help(stderr);
        return QUANTA_ERR_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0)
        return print_version();
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        if (argc > 2 && strcmp(name, "help") == 0) {
            for (size_t i = 0; i < n_commands; i++)
                if (strcmp(argv[2], commands[i].name) == 0) {
                    char *help_argv[] = {argv[2], "--help", NULL};
                    return commands[i].run(2, help_argv);
                }
        }
        return print_help(stdout);
    }
    for (size_t i = 0; i < n_commands; i++)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "quanta: '%s' is not a quanta command; see 'quanta help'\n", name);
    return QUANTA_ERR_USAGE;
}

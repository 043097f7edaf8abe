/* tripline: the CLI. Each command lives in its own agent/cli_*.c. */
#include <stdio.h>
#include <string.h>

#include "agent/cli/cli.h"

static int usage(FILE *f)
{
    fprintf(f,
            "usage: tripline COMMAND [ARGS]\n"
            "\n"
            "commands:\n"
            "  check FILES...         validate probe files (exit 1 on errors)\n"
            "  once [--json] FILES... run every probe once and report (exit 1 if any failed)\n"
            "  run [--config FILE]    run the probes on their schedules (the daemon)\n"
            "  version                print the version\n"
            "\n"
            "Run `tripline COMMAND --help` for a command's options.\n");
    return f == stderr ? 2 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    const char *cmd = argv[1];
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("tripline %s\n", TRIPLINE_VERSION);
        return 0;
    }
    if (strcmp(cmd, "check") == 0)
        return cli_check(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0)
        return cli_run(argc - 1, argv + 1);
    if (strcmp(cmd, "once") == 0)
        return cli_once(argc - 1, argv + 1);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
        return usage(stdout);
    fprintf(stderr, "tripline: unknown command \"%s\"\n", cmd);
    return usage(stderr);
}

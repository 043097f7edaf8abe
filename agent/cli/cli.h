/* The CLI commands. Each returns the process exit code:
 * 0 success, 1 a check/probe failed, 2 usage or file errors. */
#ifndef TRIPLINE_CLI_H
#define TRIPLINE_CLI_H

int cli_check(int argc, char **argv);
int cli_once(int argc, char **argv);
int cli_run(int argc, char **argv);

#endif

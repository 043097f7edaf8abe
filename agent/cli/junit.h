/* `tripline once --junit FILE`: the results as a JUnit XML report, the shape
 * CI servers read (Jenkins, GitLab, GitHub): one <testsuite> per probe file,
 * one <testcase> per probe, a <failure> for an API failure and an <error>
 * for the agent's own fault (the test could not run). */
#ifndef TRIPLINE_JUNIT_H
#define TRIPLINE_JUNIT_H

#include <stddef.h>

#include "probes/run/result.h"

/* Writes the report of rs[0..n) to path through a temporary file renamed
 * over it, so a crash never leaves half a report. Every result's probe must
 * still be loaded (its file names the testsuite). Returns 0 or a TL_E* code. */
int junit_write(const char *path, struct run_result *const *rs, size_t n);

#endif

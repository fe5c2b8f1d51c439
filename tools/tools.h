/* The ctrace command's subcommands. Each returns the process exit status. */
#ifndef CTR_TOOLS_H
#define CTR_TOOLS_H

int cmd_record(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_pprof(int argc, char **argv);
int cmd_capture(int argc, char **argv);
int cmd_view(int argc, char **argv);
int cmd_import(int argc, char **argv);

/* "ctrace SUBCOMMAND: message" on stderr. */
void tool_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A progress line on stderr for model builds, when stderr is a terminal: sets @cb's
 * progress callback (and its userdata to the command's name). */
struct ctrace_model_callbacks;
void tool_progress(struct ctrace_model_callbacks *cb, const char *cmd);
/* --jobs=N: 1 when @arg is it (*jobs set), 0 when it is another argument, -1 when bad. */
int tool_jobs_arg(const char *cmd, const char *arg, unsigned *jobs);
/* The threads that load generations ahead when no --jobs is given: two when there are two
 * CPUs or more (one generation always ready), else none. */
unsigned tool_default_jobs(void);
void tool_progress_done(const struct ctrace_model_callbacks *cb);

/* Fetch profile @name (heap, allocs, block, mutex, threadcreate, threads, goroutine,
 * profile, delta_heap...) from the endpoint at @base into @out (capture.c). @seconds > 0
 * asks for seconds=N. @return the exit status, after saying what went wrong. */
int tool_fetch_profile(const char *cmd, const char *base, const char *name, double seconds,
		       const char *out, const char *token);

/* "12.3 KiB" */
void human_size(char *buf, unsigned long size, unsigned long long bytes);

#endif

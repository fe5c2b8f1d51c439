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
void tool_progress_done(const struct ctrace_model_callbacks *cb);

/* "12.3 KiB" */
void human_size(char *buf, unsigned long size, unsigned long long bytes);

#endif

/*
 * ctrace capture: fetch a trace from a program's HTTP endpoint (libcurl), with a progress
 * line while it records, and check that what arrived is a readable trace; or, with
 * --profile=NAME, one of the endpoint's pprof profiles (also for `ctrace pprof URL`).
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ctrace/trace.h>

#include "tools.h"

static const char capture_usage[] =
	"usage: ctrace capture URL [-s SECONDS] [--flight] [--profile=NAME] [-o FILE] "
	"[--token TOKEN]";

struct fetch {
	FILE *out;
	uint64_t bytes;
	double seconds;
	struct timespec t0;
	int tty;
	int err;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct fetch *f = ud;
	size_t len = size * n;
	if (fwrite(p, 1, len, f->out) != len) {
		f->err = errno ? errno : EIO;
		return 0;
	}
	f->bytes += len;
	return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct fetch *f = ud;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (!f->tty)
		return 0;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double el = (double)(now.tv_sec - f->t0.tv_sec) + (double)(now.tv_nsec - f->t0.tv_nsec) / 1e9;
	char size[32];
	human_size(size, sizeof(size), f->bytes);
	if (f->seconds > 0)
		fprintf(stderr, "\rctrace capture: recording %.1f of %.1f s, %s received   ", el,
			f->seconds, size);
	else
		fprintf(stderr, "\rctrace capture: %s received   ", size);
	return 0;
}

/* The URL of the trace: a base like http://host:6060 gets the endpoint's path. */
static char *trace_url(const char *base, double seconds, int flight)
{
	size_t len = strlen(base) + 96;
	char *u = malloc(len);
	if (!u)
		return NULL;
	const char *path = strstr(base, "/debug/pprof/trace") ? "" : "/debug/pprof/trace";
	size_t bl = strlen(base);
	int slash = bl && base[bl - 1] == '/' && *path;
	if (flight)
		snprintf(u, len, "%.*s%s%sflight=1", (int)(bl - (size_t)slash), base, path,
			 strchr(base, '?') ? "&" : "?");
	else
		snprintf(u, len, "%.*s%s%sseconds=%g", (int)(bl - (size_t)slash), base, path,
			 strchr(base, '?') ? "&" : "?", seconds);
	return u;
}

/* GET @url into @f->out, with a progress line; the status in *@status. */
static CURLcode http_get(const char *url, const char *token, struct fetch *f, long *status,
			 char *errbuf)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *c = curl_easy_init();
	char auth[600];
	struct curl_slist *hdrs = NULL;
	if (token && *token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, f);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 0L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	CURLcode rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	curl_global_cleanup();
	return rc;
}

/* The endpoint's answer to a failed request is one line of text in @path: say it. */
static void say_http_error(const char *cmd, const char *url, long status, const char *path)
{
	char line[512] = "";
	FILE *e = fopen(path, "r");
	if (e) {
		if (!fgets(line, sizeof(line), e))
			line[0] = 0;
		fclose(e);
	}
	line[strcspn(line, "\n")] = 0;
	tool_error(cmd, "%s: HTTP %ld: %s", url, status, line);
}

/* The URL of profile @name: a base like http://host:6060 gets /debug/pprof/NAME; a URL
 * that already names a profile is kept. @seconds > 0 asks for seconds=N. */
static char *profile_url(const char *base, const char *name, double seconds)
{
	size_t len = strlen(base) + strlen(name) + 96;
	char *u = malloc(len);
	if (!u)
		return NULL;
	const char *pp = strstr(base, "/debug/pprof/");
	size_t bl = strlen(base);
	if (pp && pp[13]) {
		snprintf(u, len, "%s", base);
	} else {
		if (pp)
			bl = (size_t)(pp - base);
		while (bl && base[bl - 1] == '/')
			bl--;
		snprintf(u, len, "%.*s/debug/pprof/%s", (int)bl, base, name);
	}
	if (seconds > 0)
		snprintf(u + strlen(u), len - strlen(u), "%sseconds=%g", strchr(u, '?') ? "&" : "?",
			 seconds);
	return u;
}

/* GET @url into @tmp, with a progress line over @seconds when stderr is a terminal.
 * @return 0 when a 200 response is all in @tmp (its size in *bytes), else 1 after a
 * one-line error. */
static int download(const char *cmd, const char *url, const char *token, double seconds,
		    const char *tmp, uint64_t *bytes)
{
	struct fetch f = { .seconds = seconds, .tty = isatty(2) };
	f.out = fopen(tmp, "wb");
	if (!f.out) {
		tool_error(cmd, "cannot create %s: %s", tmp, strerror(errno));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &f.t0);
	long status = 0;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc = http_get(url, token, &f, &status, errbuf);
	if (f.tty)
		fprintf(stderr, "\r%70s\r", "");
	int closed = fclose(f.out) == 0;
	*bytes = f.bytes;
	if (rc != CURLE_OK) {
		tool_error(cmd, "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return 1;
	}
	if (status != 200) {
		say_http_error(cmd, url, status, tmp);
		return 1;
	}
	if (f.err || !closed) {
		tool_error(cmd, "cannot write %s: %s", tmp, strerror(f.err ? f.err : EIO));
		return 1;
	}
	return 0;
}

int tool_fetch_profile(const char *cmd, const char *base, const char *name, double seconds,
		       const char *out, const char *token)
{
	char *url = profile_url(base, name, seconds);
	if (!url) {
		tool_error(cmd, "out of memory");
		return 1;
	}
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.part", out);
	uint64_t bytes = 0;
	int result = download(cmd, url, token, strcmp(name, "profile") == 0 ? seconds : 0, tmp,
			      &bytes);
	if (result == 0) {
		/* A binary profile is gzipped profile.proto; text (debug=N) is let through. */
		result = 1;
		unsigned char magic[2] = { 0 };
		FILE *g = fopen(tmp, "rb");
		size_t got = g ? fread(magic, 1, 2, g) : 0;
		if (g)
			fclose(g);
		if (!strstr(url, "debug=") && (got != 2 || magic[0] != 0x1f || magic[1] != 0x8b)) {
			tool_error(cmd, "%s: what arrived is not a gzipped profile", url);
		} else if (rename(tmp, out) < 0) {
			tool_error(cmd, "cannot rename %s: %s", tmp, strerror(errno));
		} else {
			char size[32];
			human_size(size, sizeof(size), bytes);
			fprintf(stderr, "ctrace: %s: %s profile, %s\n", out, name, size);
			result = 0;
		}
	}
	if (result)
		unlink(tmp);
	free(url);
	return result;
}

int cmd_capture(int argc, char **argv)
{
	const char *base = NULL, *out = "trace.out", *token = getenv("CTRACE_HTTP_TOKEN");
	double seconds = 1;
	int flight = 0, seconds_given = 0, out_given = 0;
	const char *profile = NULL;
	for (int i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "-s") == 0 || strcmp(argv[i], "--seconds") == 0) && i + 1 < argc) {
			char *end;
			seconds = strtod(argv[++i], &end);
			seconds_given = 1;
			if (*end || !(seconds > 0) || seconds > 86400) {
				tool_error("capture", "-s needs a number of seconds, not '%s'", argv[i]);
				return 2;
			}
		} else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
			out = argv[++i];
			out_given = 1;
		} else if (strcmp(argv[i], "--token") == 0 && i + 1 < argc) {
			token = argv[++i];
		} else if (strcmp(argv[i], "--flight") == 0) {
			flight = 1;
		} else if (strncmp(argv[i], "--profile=", 10) == 0 && argv[i][10]) {
			profile = argv[i] + 10;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("%s\n", capture_usage);
			return 0;
		} else if (argv[i][0] == '-') {
			tool_error("capture", "unknown option '%s' (%s)", argv[i], capture_usage);
			return 2;
		} else if (base) {
			tool_error("capture", "one URL at a time (%s)", capture_usage);
			return 2;
		} else {
			base = argv[i];
		}
	}
	if (!base) {
		tool_error("capture", "no URL given (%s)", capture_usage);
		return 2;
	}
	if (profile) {
		/* CPU: -s is its length (Go's default 30 s); others: -s asks for a delta. */
		if (strcmp(profile, "cpu") == 0)
			profile = "profile";
		double s = seconds_given ? seconds : strcmp(profile, "profile") == 0 ? 30 : 0;
		char name[256];
		snprintf(name, sizeof(name), "%s.pb.gz", profile);
		return tool_fetch_profile("capture", base, profile, s,
					  out_given ? out : name, token);
	}
	char *url = trace_url(base, seconds, flight);
	if (!url) {
		tool_error("capture", "out of memory");
		return 1;
	}
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.part", out);
	uint64_t bytes = 0;
	int result = download("capture", url, token, flight ? 0 : seconds, tmp, &bytes);
	if (result == 0) {
		result = 1;
		/* Check it reads as a trace before it takes the name. */
		ctrace_reader *r;
		ctrace_gen *g;
		uint64_t gens = 0, events = 0;
		int n = ctrace_reader_open(tmp, &r);
		while (n == 0 && (n = ctrace_reader_next(r, &g)) == 1) {
			gens++;
			events += ctrace_gen_header(g)->events;
			n = 0;
		}
		if (n < 0) {
			tool_error("capture", "what arrived is not a readable trace: %s",
				   r ? ctrace_reader_errmsg(r) : ctrace_strerror(n));
		} else if (rename(tmp, out) < 0) {
			tool_error("capture", "cannot rename %s: %s", tmp, strerror(errno));
		} else {
			char size[32];
			human_size(size, sizeof(size), bytes);
			fprintf(stderr, "ctrace: %s: %s, %llu events, %llu generations\n", out, size,
				(unsigned long long)events, (unsigned long long)gens);
			result = 0;
		}
		ctrace_reader_free(r);
	}
	if (result)
		unlink(tmp);
	free(url);
	return result;
}

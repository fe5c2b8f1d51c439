/* The viewer: its HTTP server (server.c) and the page's files, embedded (assets.c). */
#ifndef CTR_VIEWER_H
#define CTR_VIEWER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ctrace/trace.h>

struct ctr_asset {
	const char *path; /* "/index.html" */
	const char *type; /* its Content-Type */
	const unsigned char *data;
	size_t len;
};

/* @return the embedded file at @path, or NULL. */
const struct ctr_asset *ctr_asset_find(const char *path);

struct ctr_viewer;

/* Serve @ix on @addr (port 0: a free one). @return the server, or NULL with @err set. */
struct ctr_viewer *ctr_viewer_start(ctrace_index *ix, const char *file,
				    const struct sockaddr *addr, char *err, size_t errlen);
uint16_t ctr_viewer_port(const struct ctr_viewer *v);
void ctr_viewer_stop(struct ctr_viewer *v);

#endif

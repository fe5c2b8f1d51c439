/*
 * Allocations with a known answer: 3 threads ("alloc-0".."alloc-2"), each calling
 * alloc_hot_site() once, which makes exactly ALLOCS_PER_THREAD allocations of known sizes
 * (20000 x malloc(1000), then one each of calloc, realloc, posix_memalign, aligned_alloc,
 * memalign, valloc and an anonymous mmap) and frees every one of them; a file mapping it
 * also makes is not an allocation. Prints "alloc_loop: 60021 allocations, 60083538 bytes"
 * and exits 0.
 */
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define THREADS 3
#define LOOPS 20000
#define LOOP_SIZE 1000
/* The sizes of the one-off allocations; the test knows them too. */
#define CALLOC_N 7
#define CALLOC_SIZE 111
#define REALLOC_SIZE 3333
#define MEMALIGN_SIZE 2222
#define ALIGNED_SIZE 2560
#define MEMALIGN2_SIZE 1111
#define VALLOC_SIZE 5555
#define MMAP_SIZE 12288
#define ALLOCS_PER_THREAD (LOOPS + 7)
#define BYTES_PER_THREAD                                                                  \
	((uint64_t)LOOPS * LOOP_SIZE + CALLOC_N * CALLOC_SIZE + REALLOC_SIZE + MEMALIGN_SIZE + \
	 ALIGNED_SIZE + MEMALIGN2_SIZE + VALLOC_SIZE + MMAP_SIZE)

static const char *self_path;

/* The pointers escape here, so the compiler cannot drop a malloc/free pair. */
void *volatile alloc_sink;

static void touch(void *p, size_t n)
{
	memset(p, 0x5a, n);
	alloc_sink = p;
}

/* Every allocation the test counts is made in this function, and freed. Exported, so a
 * stack frame in it has its name. */
int alloc_hot_site(void);
__attribute__((noinline)) int alloc_hot_site(void)
{
	int bad = 0;

	for (int i = 0; i < LOOPS; i++) {
		char *p = malloc(LOOP_SIZE);
		if (!p)
			return 1;
		touch(p, LOOP_SIZE);
		free(p);
	}

	char *c = calloc(CALLOC_N, CALLOC_SIZE);
	bad |= !c || c[CALLOC_N * CALLOC_SIZE - 1] != 0;
	char *r = realloc(c, REALLOC_SIZE); /* frees c */
	bad |= !r;
	touch(r, REALLOC_SIZE);
	free(r);

	void *a = NULL;
	bad |= posix_memalign(&a, 64, MEMALIGN_SIZE) != 0 || ((uintptr_t)a & 63);
	touch(a, MEMALIGN_SIZE);
	free(a);

	void *b = aligned_alloc(256, ALIGNED_SIZE);
	bad |= !b || ((uintptr_t)b & 255);
	touch(b, ALIGNED_SIZE);
	free(b);

	void *m = memalign(64, MEMALIGN2_SIZE);
	bad |= !m;
	touch(m, MEMALIGN2_SIZE);
	free(m);

	void *v = valloc(VALLOC_SIZE);
	bad |= !v || ((uintptr_t)v & 4095);
	touch(v, VALLOC_SIZE);
	free(v);

	void *map = mmap(NULL, MMAP_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	bad |= map == MAP_FAILED;
	if (map != MAP_FAILED) {
		touch(map, MMAP_SIZE);
		bad |= munmap(map, MMAP_SIZE) != 0;
	}

	/* A file mapping: not an allocation. */
	int fd = open(self_path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		void *f = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
		bad |= f == MAP_FAILED;
		if (f != MAP_FAILED)
			munmap(f, 4096);
		close(fd);
	}
	return bad;
}

static void *worker(void *arg)
{
	char name[16];
	snprintf(name, sizeof(name), "alloc-%d", (int)(intptr_t)arg);
	pthread_setname_np(pthread_self(), name);
	return (void *)(intptr_t)alloc_hot_site();
}

int main(int argc, char **argv)
{
	(void)argc;
	pthread_t t[THREADS];
	int bad = 0;

	self_path = argv[0];
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) != 0)
			return 2;
	for (int i = 0; i < THREADS; i++) {
		void *ret;
		pthread_join(t[i], &ret);
		bad |= ret != NULL;
	}
	if (bad) {
		printf("alloc_loop: an allocation failed\n");
		return 1;
	}
	printf("alloc_loop: %d allocations, %llu bytes\n", THREADS * ALLOCS_PER_THREAD,
	       (unsigned long long)(THREADS * BYTES_PER_THREAD));
	return 0;
}

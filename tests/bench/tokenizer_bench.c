/* qlora-tools: ISC license. */
/*
 * Encode throughput of formats/tokenizer on a JSONL corpus (one JSON string per line),
 * repeated R times, on T threads taking items from a shared counter. Prints
 * "c <threads> <seconds> <tokens> <fnv>" where fnv is FNV-1a 64 over the ids of every item in
 * corpus order (to compare with HF). Built and run by tests/bench/tokenizer_bench.sh.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/io.h"
#include "formats/tokenizer.h"

struct item { char *s; size_t n; struct tok_ids ids; };

static struct tokenizer *tok;
static struct item *items;
static size_t n_items;
static atomic_size_t next_item;

static void *worker(void *arg)
{
	struct qt_err err;
	(void)arg;
	for (;;) {
		size_t i = atomic_fetch_add(&next_item, 1);
		if (i >= n_items)
			return NULL;
		items[i].ids.n = 0;
		if (tokenizer_encode(tok, items[i].s, items[i].n, 0, &items[i].ids, &err) != QT_OK) {
			fprintf(stderr, "%s\n", err.msg);
			exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: tokenizer_bench tokenizer.json corpus.jsonl threads repeat\n");
		return 64;
	}
	struct qt_err err;
	int threads = atoi(argv[3]), repeat = atoi(argv[4]);
	if (tokenizer_load(argv[1], &tok, &err) != QT_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	char *buf;
	size_t len, cap = 0;
	if (qt_read_file(argv[2], &buf, &len, &err) != QT_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	for (int r = 0; r < repeat; r++)
		for (char *p = buf, *e; p < buf + len; p = e + 1) {
			e = memchr(p, '\n', (size_t)(buf + len - p));
			if (!e)
				e = buf + len;
			json_t *j = json_loadb(p, (size_t)(e - p), JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
			if (n_items == cap) {
				cap = cap ? cap * 2 : 4096;
				items = realloc(items, cap * sizeof *items);
			}
			memset(&items[n_items], 0, sizeof *items);
			items[n_items].n = json_string_length(j);
			items[n_items].s = malloc(items[n_items].n + 1);
			memcpy(items[n_items].s, json_string_value(j), items[n_items].n + 1);
			n_items++;
			json_decref(j);
		}
	/* warm-up pass (per-thread caches, page faults), then the timed pass */
	pthread_t th[256];
	double best = 1e30;
	for (int pass = 0; pass < 3; pass++) {
		struct timespec a, b;
		atomic_store(&next_item, 0);
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (int k = 0; k < threads; k++)
			pthread_create(&th[k], NULL, worker, NULL);
		for (int k = 0; k < threads; k++)
			pthread_join(th[k], NULL);
		clock_gettime(CLOCK_MONOTONIC, &b);
		double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
		if (pass > 0 && s < best)
			best = s;
	}
	uint64_t h = 0xcbf29ce484222325ull, ntok = 0;
	for (size_t i = 0; i < n_items; i++)
		for (size_t k = 0; k < items[i].ids.n; k++) {
			h = (h ^ items[i].ids.v[k]) * 0x100000001b3ull;
			ntok++;
		}
	printf("c %d %.4f %llu %016llx\n", threads, best, (unsigned long long)ntok,
	       (unsigned long long)h);
	return 0;
}

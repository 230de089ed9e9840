/* qlora-tools: ISC license. */
/*
 * Private to metrics/jieba*.c: the loaded dictionary as a code-point trie (every FREQ key of
 * jieba, i.e. every word and every prefix of a word, is one node) and the HMM tables.
 */
#ifndef QT_METRICS_JIEBA_IMPL_H
#define QT_METRICS_JIEBA_IMPL_H

#include <stdint.h>

#include "metrics/jieba.h"

#define JIEBA_EDGE_EMPTY UINT64_MAX
#define JIEBA_HAN_LO     0x4E00u  /* finalseg's re_han = [\u4E00-\u9FD5] */
#define JIEBA_HAN_HI     0x9FD5u
#define JIEBA_MIN_FLOAT  (-3.14e100) /* finalseg MIN_FLOAT: score of an unseen emission */

/* HMM states in jieba's letter order B < E < M < S (the order max() breaks ties in). */
enum { JB = 0, JE = 1, JM = 2, JS = 3 };

struct jieba {
	/* trie: node 0 is the root (the empty string, not a key) */
	uint32_t  n_nodes, cap_nodes;
	int64_t  *freq;     /* FREQ[key]: the dictionary count, 0 for a prefix-only key */
	double   *logp;     /* log(FREQ[key] or 1) - log(total), as jieba's calc computes it */
	/* edges: open addressing, key = parent << 21 | code point, value = child node */
	uint64_t *ekey;
	uint32_t *eval;
	uint64_t  emask;    /* table size - 1 (power of two) */
	uint64_t  n_edges;
	int64_t   total;
	double    logtotal;
	/* HMM */
	double    start[4];
	double    trans[4][4];  /* trans[from][to]; JIEBA_MIN_FLOAT where absent */
	double   *emit;         /* emit[(c - JIEBA_HAN_LO) * 4 + state] */
	void     *blob;         /* when loaded from the cache: the one buffer all arrays point into */
};

/* ---- the load cache (jieba_cache.c) ---- */

/* XXH3 over the contents of dict and hmm_dir's three prob_*.py files (and the cache version). */
int jieba_cache_key(const char *dict, const char *hmm_dir, uint64_t *key, struct qt_err *err);
/* The cache file for key (malloc'd), or NULL when caching is off or no directory is known. */
char *jieba_cache_path(uint64_t key);
/* The cached data, or NULL when the file is missing or fails any check. */
struct jieba *jieba_cache_read(const char *path, uint64_t key);
/* Writes the cache file atomically; failures are ignored (the cache is an optimisation). */
void jieba_cache_write(const struct jieba *j, const char *path, uint64_t key);

static inline uint64_t jieba_edge_slot(uint64_t key, uint64_t mask)
{
	return (key * 0x9E3779B97F4A7C15ull >> 17) & mask;
}

/* Child of node for code point c, or 0 when there is none (the root is never a child). */
static inline uint32_t jieba_child(const struct jieba *j, uint32_t node, uint32_t c)
{
	uint64_t key = (uint64_t)node << 21 | c;
	for (uint64_t i = jieba_edge_slot(key, j->emask);; i = (i + 1) & j->emask) {
		if (j->ekey[i] == key)
			return j->eval[i];
		if (j->ekey[i] == JIEBA_EDGE_EMPTY)
			return 0;
	}
}

#endif

/* qlora-tools: ISC license. */
/*
 * A cache of the loaded jieba data (the prefix trie with its log-probabilities, and the HMM
 * tables) so that later runs skip parsing dict.txt and prob_emit.py: one file per set of source
 * files, named by the XXH3 of their contents, in $QT_JIEBA_CACHE, else $XDG_CACHE_HOME/qlora-tools,
 * else ~/.cache/qlora-tools ("off" disables it). Host byte order: it is a private, per-machine
 * file. Layout: struct cache_header, then freq[n_nodes] (int64), logp[n_nodes] (double),
 * ekey[n_slots] (uint64), eval[n_slots] (uint32, padded to 8 bytes), start[4], trans[16],
 * emit[(JIEBA_HAN_HI - JIEBA_HAN_LO + 1) * 4] (doubles). A file that fails any check is ignored
 * (and rebuilt); failing to write one is not an error.
 */
#include "metrics/jieba_impl.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/hash.h"
#include "common/io.h"

#define CACHE_MAGIC   "QTJIEBAC"
#define CACHE_VERSION 1u
#define CACHE_ORDER   0x01020304u /* byte-order mark */
#define N_EMIT        ((size_t)(JIEBA_HAN_HI - JIEBA_HAN_LO + 1) * 4)

struct cache_header {
	char     magic[8];      /* "QTJIEBAC" */
	uint32_t version;       /* CACHE_VERSION */
	uint32_t header_size;   /* sizeof(struct cache_header) */
	uint32_t order;         /* CACHE_ORDER as written by the host */
	uint32_t reserved;
	uint64_t source_key;    /* jieba_cache_key of the source files */
	uint64_t n_nodes, n_slots, n_edges;
	int64_t  total;
	double   logtotal;
	uint64_t payload_size;  /* bytes after the header */
	uint64_t payload_hash;  /* XXH3-64 of those bytes */
};
_Static_assert(sizeof(struct cache_header) == 88, "cache header layout");

static size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }

static size_t payload_size(uint64_t n_nodes, uint64_t n_slots)
{
	return n_nodes * 16 + n_slots * 8 + pad8(n_slots * 4) + 20 * 8 + N_EMIT * 8;
}

int jieba_cache_key(const char *dict, const char *hmm_dir, uint64_t *key, struct qt_err *err)
{
	static const char *names[3] = { "prob_start.py", "prob_trans.py", "prob_emit.py" };
	uint64_t h[5] = { CACHE_VERSION };
	int rc = qt_xxh3_file(dict, &h[1], err);
	for (int i = 0; !rc && i < 3; i++) {
		char *p = qt_path_join(hmm_dir, names[i]);
		rc = p ? qt_xxh3_file(p, &h[2 + i], err) : qt_err_set(err, QT_ESOFTWARE, "oom");
		free(p);
	}
	*key = qt_xxh3(h, sizeof h);
	return rc;
}

char *jieba_cache_path(uint64_t key)
{
	const char *env = getenv("QT_JIEBA_CACHE"), *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	char dir[4096], name[64];
	if (env && !strcmp(env, "off"))
		return NULL;
	if (env && *env)
		snprintf(dir, sizeof dir, "%s", env);
	else if (xdg && *xdg)
		snprintf(dir, sizeof dir, "%s/qlora-tools", xdg);
	else if (home && *home)
		snprintf(dir, sizeof dir, "%s/.cache/qlora-tools", home);
	else
		return NULL;
	snprintf(name, sizeof name, "jieba-%016llx.bin", (unsigned long long)key);
	return qt_path_join(dir, name);
}

struct jieba *jieba_cache_read(const char *path, uint64_t key)
{
	struct qt_err err;
	char *buf = NULL;
	size_t len;
	if (qt_read_file(path, &buf, &len, &err))
		return NULL;
	struct cache_header h;
	struct jieba *j = NULL;
	if (len < sizeof h)
		goto bad;
	memcpy(&h, buf, sizeof h);
	if (memcmp(h.magic, CACHE_MAGIC, 8) || h.version != CACHE_VERSION ||
	    h.header_size != sizeof h || h.order != CACHE_ORDER || h.source_key != key ||
	    h.n_nodes == 0 || h.n_nodes > UINT32_MAX || h.n_slots == 0 ||
	    (h.n_slots & (h.n_slots - 1)) || h.n_slots > ((uint64_t)1 << 40) ||
	    h.payload_size != payload_size(h.n_nodes, h.n_slots) ||
	    h.payload_size != len - sizeof h ||
	    qt_xxh3(buf + sizeof h, (size_t)h.payload_size) != h.payload_hash)
		goto bad;
	j = calloc(1, sizeof *j);
	if (!j)
		goto bad;
	/* buf comes from malloc, so the 88-byte header keeps the arrays 8-byte aligned */
	char *p = buf + sizeof h;
	j->blob = buf;
	j->n_nodes = j->cap_nodes = (uint32_t)h.n_nodes;
	j->freq = (int64_t *)p;
	p += h.n_nodes * 8;
	j->logp = (double *)p;
	p += h.n_nodes * 8;
	j->ekey = (uint64_t *)p;
	p += h.n_slots * 8;
	j->eval = (uint32_t *)p;
	p += pad8(h.n_slots * 4);
	memcpy(j->start, p, sizeof j->start);
	memcpy(j->trans, p + sizeof j->start, sizeof j->trans);
	p += 20 * 8;
	j->emit = (double *)p;
	j->emask = h.n_slots - 1;
	j->n_edges = h.n_edges;
	j->total = h.total;
	j->logtotal = h.logtotal;
	return j;
bad:
	free(buf);
	return NULL;
}

void jieba_cache_write(const struct jieba *j, const char *path, uint64_t key)
{
	struct qt_err err;
	char *dir = strdup(path);
	char *slash = dir ? strrchr(dir, '/') : NULL;
	if (slash) { /* mkdir -p of the parent */
		*slash = 0;
		for (char *q = dir + 1; *q; q++)
			if (*q == '/') {
				*q = 0;
				mkdir(dir, 0755);
				*q = '/';
			}
		mkdir(dir, 0755);
	}
	free(dir);
	uint64_t n_slots = j->emask + 1;
	struct cache_header h = { .version = CACHE_VERSION, .header_size = sizeof h,
	                          .order = CACHE_ORDER, .source_key = key, .n_nodes = j->n_nodes,
	                          .n_slots = n_slots, .n_edges = j->n_edges, .total = j->total,
	                          .logtotal = j->logtotal,
	                          .payload_size = payload_size(j->n_nodes, n_slots) };
	memcpy(h.magic, CACHE_MAGIC, 8);
	char *pl = calloc(1, (size_t)h.payload_size);
	if (!pl)
		return;
	char *p = pl;
	memcpy(p, j->freq, j->n_nodes * 8), p += j->n_nodes * 8;
	memcpy(p, j->logp, j->n_nodes * 8), p += j->n_nodes * 8;
	memcpy(p, j->ekey, n_slots * 8), p += n_slots * 8;
	memcpy(p, j->eval, n_slots * 4), p += pad8(n_slots * 4);
	memcpy(p, j->start, sizeof j->start), p += sizeof j->start;
	memcpy(p, j->trans, sizeof j->trans), p += sizeof j->trans;
	memcpy(p, j->emit, N_EMIT * 8);
	h.payload_hash = qt_xxh3(pl, (size_t)h.payload_size);
	struct qt_out out;
	if (qt_out_open(&out, path, &err) == QT_OK) {
		if (qt_write(out.fp, &h, sizeof h, path, &err) ||
		    qt_write(out.fp, pl, (size_t)h.payload_size, path, &err))
			qt_out_abort(&out);
		else
			qt_out_commit(&out, &err);
	}
	free(pl);
}

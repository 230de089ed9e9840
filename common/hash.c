/* qlora-tools: ISC license. */
/* XXH3 helpers; see hash.h. */
#include "common/hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>

uint64_t qt_xxh3(const void *p, size_t n) { return XXH3_64bits(p, n); }

int qt_xxh3_init(struct qt_xxh3_state *s)
{
	s->st = XXH3_createState();
	if (!s->st)
		return QT_ESOFTWARE;
	XXH3_64bits_reset(s->st);
	return QT_OK;
}

void qt_xxh3_update(struct qt_xxh3_state *s, const void *p, size_t n)
{
	XXH3_64bits_update(s->st, p, n);
}

uint64_t qt_xxh3_digest(const struct qt_xxh3_state *s) { return XXH3_64bits_digest(s->st); }

void qt_xxh3_free(struct qt_xxh3_state *s)
{
	if (s->st)
		XXH3_freeState(s->st);
	s->st = NULL;
}

int qt_xxh3_file(const char *path, uint64_t *out, struct qt_err *err)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return qt_err_set(err, QT_ENOINPUT, "%s:", path);
	struct qt_xxh3_state s;
	if (qt_xxh3_init(&s) != QT_OK) {
		fclose(fp);
		return qt_err_set(err, QT_ESOFTWARE, "out of memory");
	}
	static char buf[1 << 16];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
		qt_xxh3_update(&s, buf, n);
	int bad = ferror(fp);
	fclose(fp);
	*out = qt_xxh3_digest(&s);
	qt_xxh3_free(&s);
	if (bad)
		return qt_err_set(err, QT_EIO, "%s: read error:", path);
	return QT_OK;
}

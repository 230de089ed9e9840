/* qlora-tools: ISC license. */
/* JSONL line reader over libarchive; see jsonl.h. */
#include "common/jsonl.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct qt_jsonl {
	struct archive *ar;
	char   *path;
	char   *name;        /* path or path:member */
	int     is_raw;      /* not an archive: one member that is the file itself */
	int     in_member;
	int     done;
	size_t  max_line;
	unsigned long long lineno;
	/* bytes of the current member not yet split into lines */
	const char *blk;
	size_t  blk_len;
	/* the line being assembled */
	char   *line;
	size_t  line_len, line_cap;
	int     overlong;    /* current line exceeded max_line: discard until '\n' */
	int     zip_magic;   /* the file starts as a zip does */
};

int qt_utf8_valid(const char *s, size_t n, size_t *bad)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		unsigned c = p[i];
		if (c < 0x80) { i++; continue; }
		size_t k;
		unsigned min, cp;
		if (c >= 0xC2 && c <= 0xDF) { k = 1; cp = c & 0x1F; min = 0x80; }
		else if (c >= 0xE0 && c <= 0xEF) { k = 2; cp = c & 0x0F; min = 0x800; }
		else if (c >= 0xF0 && c <= 0xF4) { k = 3; cp = c & 0x07; min = 0x10000; }
		else goto fail;
		for (size_t j = 1; j <= k; j++) {
			if (i + j >= n || (p[i + j] & 0xC0) != 0x80)
				goto fail;
			cp = cp << 6 | (p[i + j] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			goto fail;
		i += k + 1;
	}
	return 1;
fail:
	if (bad)
		*bad = i;
	return 0;
}

static void set_name(struct qt_jsonl *r, const char *member)
{
	free(r->name);
	if (r->is_raw || !member) {
		r->name = strdup(r->path);
	} else {
		size_t n = strlen(r->path) + strlen(member) + 2;
		r->name = malloc(n);
		if (r->name)
			snprintf(r->name, n, "%s:%s", r->path, member);
	}
}

/* The status for a libarchive failure: a missing or unreadable input is QT_ENOINPUT (open) or
 * QT_EIO (later); anything else (a truncated or corrupt archive or compressed stream, an
 * unknown format) is bad data, QT_EDATA. */
static int archive_status(struct archive *ar, int opening)
{
	switch (archive_errno(ar)) {
	case ENOENT: case EACCES: case EISDIR: case ENOTDIR: case ELOOP: case ENAMETOOLONG:
		return opening ? QT_ENOINPUT : QT_EIO;
	case EIO: case ENXIO: case EBADF: case ENODEV:
		return QT_EIO;
	default:
		return QT_EDATA;
	}
}

/* 1 if the file's first bytes are a zip local header or end record ("PK\3\4", "PK\5\6"). */
static int looks_like_zip(const char *path)
{
	unsigned char m[4] = { 0 };
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : NULL;
	if (!f)
		return 0;
	size_t n = fread(m, 1, 4, f);
	fclose(f);
	return n == 4 && m[0] == 'P' && m[1] == 'K' && ((m[2] == 3 && m[3] == 4) ||
	                                                  (m[2] == 5 && m[3] == 6));
}

struct qt_jsonl *qt_jsonl_open(const char *path, size_t max_line, struct qt_err *err)
{
	struct qt_jsonl *r = calloc(1, sizeof *r);
	if (!r) {
		qt_err_set(err, QT_ESOFTWARE, "out of memory");
		return NULL;
	}
	r->max_line = max_line ? max_line : QT_JSONL_MAX_LINE_DEFAULT;
	r->path = strdup(strcmp(path, "-") == 0 ? "<stdin>" : path);
	r->ar = archive_read_new();
	archive_read_support_filter_all(r->ar);
	/* Only container formats a dataset comes in; "raw" catches plain and compressed files.
	 * format_all would let text-sniffing formats (mtree) claim a plain JSONL file. */
	archive_read_support_format_tar(r->ar);
	/* A zip file is read through its central directory (seekable: a zip cut short has none
	 * and is refused, where the streaming reader would stop quietly after the last whole
	 * member); stdin can only be streamed. */
	if (strcmp(path, "-") == 0)
		archive_read_support_format_zip_streamable(r->ar);
	else
		archive_read_support_format_zip_seekable(r->ar);
	archive_read_support_format_7zip(r->ar);
	archive_read_support_format_empty(r->ar);  /* an empty file is zero lines */
	archive_read_support_format_raw(r->ar);
	r->zip_magic = looks_like_zip(path);
	int rc = strcmp(path, "-") == 0 ? archive_read_open_fd(r->ar, 0, 1 << 16)
	                                : archive_read_open_filename(r->ar, path, 1 << 16);
	if (rc != ARCHIVE_OK) {
		qt_err_set(err, archive_status(r->ar, 1), "%s: %s", path, archive_error_string(r->ar));
		qt_jsonl_close(r);
		return NULL;
	}
	set_name(r, NULL);
	return r;
}

/* Advances to the next regular member; returns 1, 0 at the end, -1 on error. */
static int next_member(struct qt_jsonl *r, struct qt_err *err)
{
	for (;;) {
		struct archive_entry *e;
		int rc = archive_read_next_header(r->ar, &e);
		if (rc == ARCHIVE_EOF)
			return 0;
		if (rc < ARCHIVE_OK) {
			/* a warning here is a damaged archive (a bad header checksum, a member cut
			 * short): refused, never read past */
			qt_err_set(err, archive_status(r->ar, 0), "%s: %s", r->path,
			           archive_error_string(r->ar));
			return -1;
		}
		r->is_raw = archive_format(r->ar) == ARCHIVE_FORMAT_RAW;
		if (r->is_raw && r->zip_magic) {
			qt_err_set(err, QT_EDATA, "%s: a zip archive without its central directory "
			           "(truncated or corrupt)", r->path);
			return -1;
		}
		if (!r->is_raw && archive_entry_filetype(e) != AE_IFREG)
			continue;
		set_name(r, archive_entry_pathname(e));
		r->lineno = 0;
		r->in_member = 1;
		return 1;
	}
}

static int append(struct qt_jsonl *r, const char *p, size_t n, struct qt_err *err)
{
	if (r->overlong)
		return 0;
	if (r->line_len + n > r->max_line) {
		r->overlong = 1;
		return 0;
	}
	if (r->line_len + n + 1 > r->line_cap) {
		size_t cap = r->line_cap ? r->line_cap : 4096;
		while (cap < r->line_len + n + 1)
			cap *= 2;
		char *nl = realloc(r->line, cap);
		if (!nl)
			return qt_err_set(err, QT_ESOFTWARE, "out of memory"), -1;
		r->line = nl;
		r->line_cap = cap;
	}
	memcpy(r->line + r->line_len, p, n);
	r->line_len += n;
	return 0;
}

/* Finishes the assembled line: 1 = deliver, 0 = blank (skip), -1 = bad line (err set). */
static int finish_line(struct qt_jsonl *r, const char **line, size_t *len, struct qt_err *err)
{
	r->lineno++;
	if (r->overlong) {
		r->overlong = 0;
		r->line_len = 0;
		qt_err_set(err, QT_EDATA, "%s:%llu: line longer than %zu bytes", r->name, r->lineno,
		           r->max_line);
		return -1;
	}
	size_t n = r->line_len;
	r->line_len = 0;
	if (n && r->line[n - 1] == '\r')
		n--;
	if (!r->line_cap && append(r, "", 0, err) < 0)
		return -1;
	r->line[n] = '\0';
	size_t i = 0;
	while (i < n && (r->line[i] == ' ' || r->line[i] == '\t'))
		i++;
	if (i == n)
		return 0;
	size_t bad;
	if (!qt_utf8_valid(r->line, n, &bad)) {
		qt_err_set(err, QT_EDATA, "%s:%llu: invalid UTF-8 at byte %zu", r->name, r->lineno,
		           bad + 1);
		return -1;
	}
	/* A UTF-8 byte order mark on the first line is not part of the record. */
	size_t skip = (r->lineno == 1 && n >= 3 && !memcmp(r->line, "\xEF\xBB\xBF", 3)) ? 3 : 0;
	*line = r->line + skip;
	*len = n - skip;
	return 1;
}

int qt_jsonl_next(struct qt_jsonl *r, const char **line, size_t *len, struct qt_err *err)
{
	while (!r->done) {
		if (!r->in_member) {
			int rc = next_member(r, err);
			if (rc < 0)
				return -1;
			if (rc == 0) {
				r->done = 1;
				break;
			}
		}
		if (r->blk_len == 0) {
			const void *buf;
			size_t size;
			la_int64_t off;
			int rc = archive_read_data_block(r->ar, &buf, &size, &off);
			if (rc == ARCHIVE_EOF) {
				r->in_member = 0;
				if (r->line_len || r->overlong) {
					int f = finish_line(r, line, len, err);
					if (f != 0)
						return f;
				}
				continue;
			}
			if (rc < ARCHIVE_OK) {
				/* a truncated or corrupt compressed stream or member (a warning too:
				 * what follows it cannot be trusted) */
				qt_err_set(err, archive_status(r->ar, 0), "%s: %s", r->name,
				           archive_error_string(r->ar));
				r->done = 1;
				return -1;
			}
			r->blk = buf;
			r->blk_len = size;
			continue;
		}
		const char *nl = memchr(r->blk, '\n', r->blk_len);
		size_t take = nl ? (size_t)(nl - r->blk) : r->blk_len;
		if (append(r, r->blk, take, err) < 0)
			return -1;
		r->blk += take;
		r->blk_len -= take;
		if (nl) {
			r->blk++;
			r->blk_len--;
			int f = finish_line(r, line, len, err);
			if (f != 0)
				return f;
		}
	}
	return 0;
}

const char *qt_jsonl_name(const struct qt_jsonl *r) { return r->name ? r->name : r->path; }
unsigned long long qt_jsonl_lineno(const struct qt_jsonl *r) { return r->lineno; }

void qt_jsonl_close(struct qt_jsonl *r)
{
	if (!r)
		return;
	if (r->ar)
		archive_read_free(r->ar);
	free(r->path);
	free(r->name);
	free(r->line);
	free(r);
}

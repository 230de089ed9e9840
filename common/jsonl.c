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
	/* ---- records (qt_jsonl_records): JSON arrays and .txt members ---- */
	int     flags;       /* QT_JSONL_* */
	unsigned member_no;  /* bumped per member */
	unsigned rec_member; /* the member whose kind is set (0: none yet) */
	int     kind;        /* KIND_* of rec_member */
	char   *rec_name;    /* name of the record last returned (text and array kinds) */
	unsigned long long rec_line;  /* its first line */
	char   *acc;         /* the record being assembled (array element, encoded text) */
	size_t  acc_len, acc_cap;
	char   *para;        /* a paragraph's raw text */
	size_t  para_len, para_cap;
	unsigned long long para_line, last_line;
	int     depth, in_str, esc, closed, in_elem;  /* array scanner */
	const char *pend;    /* rest of the current line not scanned yet (array) */
	size_t  pend_len;
	const char *held;    /* a line read but not used yet (the next member's first) */
	size_t  held_len;
	int     have_held;
};

enum { KIND_JSONL, KIND_ARRAY, KIND_TEXT };

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
		r->member_no++;
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

static int read_line(struct qt_jsonl *r, const char **line, size_t *len, struct qt_err *err)
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

/* ---- records: JSON arrays and raw text ---- */

void qt_jsonl_records(struct qt_jsonl *r, int flags)
{
	r->flags = flags;
}

static int grow_buf(char **b, size_t *cap, size_t need, struct qt_err *err)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 4096;
	while (c < need)
		c *= 2;
	char *nb = realloc(*b, c);
	if (!nb)
		return qt_err_set(err, QT_ESOFTWARE, "out of memory"), -1;
	*b = nb;
	*cap = c;
	return 0;
}

static int acc_put(struct qt_jsonl *r, const char *p, size_t n, struct qt_err *err)
{
	if (grow_buf(&r->acc, &r->acc_cap, r->acc_len + n + 1, err) < 0)
		return -1;
	memcpy(r->acc + r->acc_len, p, n);
	r->acc_len += n;
	r->acc[r->acc_len] = 0;
	return 0;
}

/* text[0..n) as a JSON string into acc. */
static int encode_text(struct qt_jsonl *r, const char *t, size_t n, struct qt_err *err)
{
	r->acc_len = 0;
	if (acc_put(r, "\"", 1, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];
		char e[8];
		if (c == '"' || c == '\\')
			snprintf(e, sizeof e, "\\%c", c);
		else if (c == '\n' || c == '\t')
			snprintf(e, sizeof e, "\\%c", c == '\n' ? 'n' : 't');
		else if (c < 0x20)
			snprintf(e, sizeof e, "\\u%04x", c);
		else {
			e[0] = (char)c;
			e[1] = 0;
		}
		if (acc_put(r, e, strlen(e), err) < 0)
			return -1;
	}
	return acc_put(r, "\"", 1, err);
}

/* A member's name without a compression suffix ends in .txt. */
static int is_txt_name(const char *name)
{
	static const char *const comp[] = { "", ".gz", ".zst", ".xz", ".bz2" };
	size_t n = strlen(name);
	for (size_t i = 0; i < sizeof comp / sizeof *comp; i++) {
		size_t k = strlen(comp[i]);
		if (n >= 4 + k && !strcmp(name + n - k, comp[i]) && !strncmp(name + n - k - 4, ".txt", 4))
			return 1;
	}
	return 0;
}

static void start_member(struct qt_jsonl *r, const char *l, size_t n)
{
	r->rec_member = r->member_no;
	size_t i = 0;
	while (i < n && (l[i] == ' ' || l[i] == '\t'))
		i++;
	if ((r->flags & QT_JSONL_TXT) && is_txt_name(r->name ? r->name : r->path))
		r->kind = KIND_TEXT;
	else if ((r->flags & QT_JSONL_ARRAYS) && i < n && l[i] == '[')
		r->kind = KIND_ARRAY;
	else
		r->kind = KIND_JSONL;
	r->depth = r->in_str = r->esc = r->closed = r->in_elem = 0;
	r->para_len = r->acc_len = 0;
	r->last_line = 0;
	free(r->rec_name);
	r->rec_name = strdup(r->name ? r->name : r->path);
}

static int deliver(struct qt_jsonl *r, unsigned long long ln, const char **line, size_t *len)
{
	r->rec_line = ln;
	*line = r->acc ? r->acc : "";
	*len = r->acc_len;
	return 1;
}

/* The end of the member in progress: 1 with a last paragraph, -1 for an unterminated array. */
static int end_member(struct qt_jsonl *r, const char **line, size_t *len, struct qt_err *err)
{
	if (r->kind == KIND_TEXT && r->para_len) {
		size_t n = r->para_len;
		r->para_len = 0;
		if (encode_text(r, r->para, n, err) < 0)
			return -1;
		return deliver(r, r->para_line, line, len);
	}
	if (r->kind == KIND_ARRAY && !r->closed) {
		r->closed = 1;
		return qt_err_set(err, QT_EDATA, "%s:%llu: the JSON array has no closing ]",
		                  r->rec_name, r->last_line), -1;
	}
	return 0;
}

/* Scans pend for the next array element: 1 with one, 0 when the line is used up, -1 on error. */
static int scan_array(struct qt_jsonl *r, const char **line, size_t *len, struct qt_err *err)
{
	while (r->pend_len) {
		char c = *r->pend++;
		r->pend_len--;
		int space = c == ' ' || c == '\t' || c == '\r';
		if (r->closed) {
			if (!space)
				return qt_err_set(err, QT_EDATA, "%s:%llu: text after the JSON array's "
				                  "closing ]", r->rec_name, r->lineno), -1;
			continue;
		}
		if (r->depth == 0) {
			if (c == '[')
				r->depth = 1;
			continue;  /* only spaces come before the [ that chose this kind */
		}
		if (!r->in_elem) {
			if (space || c == ',')
				continue;
			if (c == ']') {
				r->closed = 1;
				continue;
			}
			r->in_elem = 1;
			r->acc_len = 0;
			r->para_line = r->lineno;
		}
		if (!r->in_str && r->depth == 1 && (c == ',' || c == ']')) {
			r->in_elem = 0;
			r->closed = c == ']';
			return deliver(r, r->para_line, line, len);
		}
		if (r->in_str) {
			if (r->esc)
				r->esc = 0;
			else if (c == '\\')
				r->esc = 1;
			else if (c == '"')
				r->in_str = 0;
		} else if (c == '"') {
			r->in_str = 1;
		} else if (c == '{' || c == '[') {
			r->depth++;
		} else if ((c == '}' || c == ']') && r->depth > 1) {
			r->depth--;
		}
		if (acc_put(r, &c, 1, err) < 0)
			return -1;
	}
	if (r->in_elem && acc_put(r, "\n", 1, err) < 0)
		return -1;
	return 0;
}

int qt_jsonl_next(struct qt_jsonl *r, const char **line, size_t *len, struct qt_err *err)
{
	if (!r->flags)
		return read_line(r, line, len, err);
	for (;;) {
		if (r->kind == KIND_ARRAY && r->pend_len) {
			int f = scan_array(r, line, len, err);
			if (f != 0)
				return f;
		}
		const char *l;
		size_t n;
		int rc;
		if (r->have_held) {
			l = r->held, n = r->held_len, rc = 1;
			r->have_held = 0;
		} else {
			rc = read_line(r, &l, &n, err);
		}
		if (rc < 0)
			return -1;
		if (rc == 0 || r->member_no != r->rec_member) {
			if (r->rec_member) {
				int f = end_member(r, line, len, err);
				if (f != 0) {
					if (rc == 1)
						r->held = l, r->held_len = n, r->have_held = 1;
					return f;
				}
			}
			if (rc == 0)
				return 0;
			start_member(r, l, n);
		}
		if (r->kind == KIND_JSONL) {
			r->rec_line = r->lineno;
			free(r->rec_name);
			r->rec_name = NULL;
			*line = l;
			*len = n;
			return 1;
		}
		if (r->kind == KIND_ARRAY) {
			r->pend = l, r->pend_len = n;
			r->last_line = r->lineno;
			continue;
		}
		if (!(r->flags & QT_JSONL_PARAGRAPHS)) {
			if (encode_text(r, l, n, err) < 0)
				return -1;
			return deliver(r, r->lineno, line, len);
		}
		/* a paragraph ends at a blank line (one read_line skipped) */
		if (r->para_len && r->lineno > r->last_line + 1) {
			size_t k = r->para_len;
			r->para_len = 0;
			r->held = l, r->held_len = n, r->have_held = 1;
			if (encode_text(r, r->para, k, err) < 0)
				return -1;
			return deliver(r, r->para_line, line, len);
		}
		if (!r->para_len)
			r->para_line = r->lineno;
		if (grow_buf(&r->para, &r->para_cap, r->para_len + n + 2, err) < 0)
			return -1;
		if (r->para_len)
			r->para[r->para_len++] = '\n';
		memcpy(r->para + r->para_len, l, n);
		r->para_len += n;
		r->last_line = r->lineno;
	}
}

int qt_jsonl_is_text(const struct qt_jsonl *r)
{
	return r->flags && r->rec_member && r->kind == KIND_TEXT;
}

const char *qt_jsonl_name(const struct qt_jsonl *r)
{
	if (r->rec_name)
		return r->rec_name;
	return r->name ? r->name : r->path;
}

unsigned long long qt_jsonl_lineno(const struct qt_jsonl *r)
{
	return r->flags ? r->rec_line : r->lineno;
}

void qt_jsonl_close(struct qt_jsonl *r)
{
	if (!r)
		return;
	if (r->ar)
		archive_read_free(r->ar);
	free(r->path);
	free(r->name);
	free(r->line);
	free(r->rec_name);
	free(r->acc);
	free(r->para);
	free(r);
}

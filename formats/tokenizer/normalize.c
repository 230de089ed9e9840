/* qlora-tools: ISC license. */
/*
 * Normalizers of tokenizer.json (null, NFC, Prepend, Replace, Strip, Sequence of those) and the Unicode character
 * classes the pipeline needs, on utf8proc. NFC skips utf8proc entirely for text made only of
 * characters that NFC cannot change in any context (a bitmap built once per process).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "formats/tokenizer/internal.h"

/* ---- character classes ---- */

/* Numbers of Unicode 16 and 17 (Rust's char::is_numeric in tokenizers 0.23.3) that utf8proc
 * 2.8 (Unicode 15) does not know. */
static const uint32_t new_numeric[][2] = {
	{ 0x10D40, 0x10D49 }, { 0x116D0, 0x116E3 }, { 0x11BF0, 0x11BF9 }, { 0x11DE0, 0x11DE9 },
	{ 0x16130, 0x16139 }, { 0x16D70, 0x16D79 }, { 0x16FF4, 0x16FF6 }, { 0x1CCF0, 0x1CCF9 },
	{ 0x1E5F1, 0x1E5FA },
};

int tk_is_numeric(uint32_t c)
{
	if (c < 0x80)
		return c >= '0' && c <= '9';
	if (c >= 0x10D40)
		for (size_t i = 0; i < sizeof new_numeric / sizeof *new_numeric; i++)
			if (c >= new_numeric[i][0] && c <= new_numeric[i][1])
				return 1;
	utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
	return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

int tk_is_space(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
	       c == 0x205F || c == 0x3000;
}

int tk_is_word(uint32_t c)
{
	if (c < 0x80)
		return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		       c == '_';
	if (c == 0x200C || c == 0x200D || (c >= 0x24B6 && c <= 0x24E9) ||
	    (c >= 0x1F130 && c <= 0x1F189))
		return 1; /* Join_Control; So characters with Other_Alphabetic */
	switch (utf8proc_category((utf8proc_int32_t)c)) {
	case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
	case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_PC:
		return 1;
	default:
		return 0;
	}
}

/* ---- NFC ---- */

/* Characters with a combining class, a canonical decomposition or a composition in utf8proc's
 * Unicode 15 that HF's NFC (unicode-normalization-alignments, Unicode 9.0 tables) does not
 * know: HF leaves them alone and they behave as plain starters, so NFC runs separately on
 * the text between them (found by probing every such code point through HF's NFC/NFD). */
static const uint32_t hf_unknown[][2] = {
	{ 0x7FD, 0x7FD }, { 0x898, 0x89F }, { 0x8CA, 0x8D3 }, { 0x9FE, 0x9FE }, { 0xC3C, 0xC3C },
	{ 0xD3B, 0xD3C }, { 0xEBA, 0xEBA }, { 0x1715, 0x1715 }, { 0x1ABF, 0x1ACE },
	{ 0x1DF6, 0x1DFA }, { 0xA82C, 0xA82C }, { 0x10D24, 0x10D27 }, { 0x10EAB, 0x10EAC },
	{ 0x10EFD, 0x10EFF }, { 0x10F46, 0x10F50 }, { 0x10F82, 0x10F85 }, { 0x11070, 0x11070 },
	{ 0x1133B, 0x1133B }, { 0x1145E, 0x1145E }, { 0x11839, 0x1183A }, { 0x11930, 0x11930 },
	{ 0x11935, 0x11935 }, { 0x11938, 0x11938 }, { 0x1193D, 0x1193E }, { 0x11943, 0x11943 },
	{ 0x119E0, 0x119E0 }, { 0x11A34, 0x11A34 }, { 0x11A47, 0x11A47 }, { 0x11A99, 0x11A99 },
	{ 0x11D42, 0x11D42 }, { 0x11D44, 0x11D45 }, { 0x11D97, 0x11D97 }, { 0x11F41, 0x11F42 },
	{ 0x16FF0, 0x16FF1 }, { 0x1E08F, 0x1E08F }, { 0x1E130, 0x1E136 }, { 0x1E2AE, 0x1E2AE },
	{ 0x1E2EC, 0x1E2EF }, { 0x1E4EC, 0x1E4EF },
};

static int is_hf_unknown(uint32_t c)
{
	size_t lo = 0, hi = sizeof hf_unknown / sizeof *hf_unknown;
	while (lo < hi) {
		size_t m = (lo + hi) / 2;
		if (c < hf_unknown[m][0])
			hi = m;
		else if (c > hf_unknown[m][1])
			lo = m + 1;
		else
			return 1;
	}
	return 0;
}

#define NCP 0x110000
static uint8_t *nfc_busy; /* bit set: NFC may change text containing this code point */
static pthread_once_t nfc_once = PTHREAD_ONCE_INIT;

static void nfc_init(void)
{
	uint8_t *b = calloc(NCP / 8, 1);
	if (!b)
		return;
	for (uint32_t c = 0x300; c < NCP; c++) {
		const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)c);
		int busy = p->combining_class != 0 ||
		           (p->comb_index != UINT16_MAX && p->comb_index >= 0x8000) ||
		           (c >= 0x1161 && c <= 0x1175) || (c >= 0x11A8 && c <= 0x11C2);
		if (!busy && p->decomp_type == 0 && p->decomp_seqindex != UINT16_MAX) {
			/* canonically decomposable: stable only if it recomposes to itself */
			utf8proc_int32_t out[8];
			utf8proc_ssize_t r = utf8proc_decompose_char((utf8proc_int32_t)c, out, 8,
			                                             UTF8PROC_DECOMPOSE, NULL);
			busy = r != 1 || out[0] != (utf8proc_int32_t)c;
			if (busy && r > 0 && r <= 8) {
				/* precomposed letters (é, Å) recompose to themselves */
				utf8proc_ssize_t k = utf8proc_normalize_utf32(out, r, UTF8PROC_STABLE |
				                                               UTF8PROC_COMPOSE);
				busy = !(k == 1 && out[0] == (utf8proc_int32_t)c);
			}
		}
		if (busy)
			b[c >> 3] |= (uint8_t)(1u << (c & 7));
	}
	nfc_busy = b;
}

static int nfc_quick(const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	for (size_t i = 0; i < n;) {
		if (u[i] < 0xCC) { /* below U+0300 */
			i += u[i] < 0x80 ? 1 : 2;
			continue;
		}
		size_t l;
		uint32_t c = tk_utf8_next(u + i, &l);
		if (!nfc_busy || (nfc_busy[c >> 3] >> (c & 7)) & 1)
			return 0;
		i += l;
	}
	return 1;
}

/* NFC of p[0..n) as a malloc'd string (utf8proc), or NULL. */
static char *nfc_map(const char *p, size_t n, size_t *outn)
{
	utf8proc_uint8_t *dst = NULL;
	utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)p, (utf8proc_ssize_t)n, &dst,
	                                  UTF8PROC_STABLE | UTF8PROC_COMPOSE);
	if (r < 0)
		return NULL;
	*outn = (size_t)r;
	return (char *)dst;
}

/* HF's NFC: utf8proc's between the characters HF does not know, which are kept as they are.
 * A malloc'd string, or NULL. */
static char *nfc_hf(const char *p, size_t n, size_t *outn)
{
	size_t seg = 0, o = 0, cap = n * 3 + 16;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	for (size_t i = 0; i <= n;) {
		size_t l = 1;
		uint32_t c = i < n && (unsigned char)p[i] >= 0x80 ?
		             tk_utf8_next((const unsigned char *)p + i, &l) : 0;
		if (i < n && !is_hf_unknown(c)) {
			i += l;
			continue;
		}
		if (i > seg) {
			size_t m;
			char *d = nfc_map(p + seg, i - seg, &m);
			if (!d || o + m + 4 > cap) { /* NFC grows UTF-8 by at most 3x */
				free(d);
				free(out);
				return NULL;
			}
			memcpy(out + o, d, m);
			o += m;
			free(d);
		}
		if (i < n) {
			memcpy(out + o, p + i, l);
			o += l;
		}
		i += l;
		seg = i;
	}
	out[o] = 0;
	*outn = o;
	return out;
}

/* ---- applying ---- */

/* Every match of z->re in p[0..n) replaced by z->b, left to right (HF's Replace with a
 * {"Regex": ...} pattern; patterns that match the empty string are refused at load). */
static char *replace_re(const struct tk_norm *z, const char *p, size_t n, size_t *outn)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(z->re, NULL);
	if (!md)
		return NULL;
	char *d = NULL;
	size_t o = 0, cap = 0, from = 0;
	for (;;) {
		int rc = from <= n ? pcre2_match(z->re, (PCRE2_SPTR)p, n, from, 0, md, NULL) : -1;
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		size_t a = rc > 0 ? ov[0] : n, b = rc > 0 ? ov[1] : n;
		if (rc > 0 && b == a) /* cannot happen (refused at load); no endless loop */
			rc = -1, a = b = n;
		if (rc <= 0 && !d)
			break;
		size_t need = o + (a - from) + (rc > 0 ? z->blen : 0) + 1;
		if (need > cap) {
			cap = need * 2 + n;
			char *e = realloc(d, cap);
			if (!e) {
				free(d);
				pcre2_match_data_free(md);
				return NULL;
			}
			d = e;
		}
		memcpy(d + o, p + from, a - from);
		o += a - from;
		if (rc <= 0)
			break;
		memcpy(d + o, z->b, z->blen);
		o += z->blen;
		from = b;
	}
	pcre2_match_data_free(md);
	if (!d) {
		*outn = n;
		return (char *)p;
	}
	d[o] = 0;
	*outn = o;
	return d;
}

/* One normalizer on p[0..n): a malloc'd result (*outn), or p itself when it changes nothing,
 * or NULL on ENOMEM. *cut is set when characters at the start were removed. */
static char *norm_one(const struct tk_norm *z, const char *p, size_t n, size_t *outn, int *cut)
{
	*outn = n;
	switch (z->kind) {
	case TK_NORM_NFC:
		if (nfc_quick(p, n))
			return (char *)p;
		return nfc_hf(p, n, outn);
	case TK_NORM_PREPEND: {
		if (n == 0) /* HF prepends only to a non-empty string */
			return (char *)p;
		char *d = malloc(z->alen + n + 1);
		if (!d)
			return NULL;
		memcpy(d, z->a, z->alen);
		memcpy(d + z->alen, p, n);
		d[z->alen + n] = 0;
		*outn = z->alen + n;
		return d;
	}
	case TK_NORM_REPLACE: {
		size_t k = 0;
		for (const char *q = p; (q = memmem(q, n - (size_t)(q - p), z->a, z->alen));
		     q += z->alen)
			k++;
		if (k == 0)
			return (char *)p;
		size_t m = n - k * z->alen + k * z->blen, o = 0;
		char *d = malloc(m + 1);
		if (!d)
			return NULL;
		for (size_t i = 0; i < n;) {
			if (n - i >= z->alen && memcmp(p + i, z->a, z->alen) == 0) {
				memcpy(d + o, z->b, z->blen);
				o += z->blen;
				i += z->alen;
			} else {
				d[o++] = p[i++];
			}
		}
		d[o] = 0;
		*outn = o;
		return d;
	}
	case TK_NORM_PRECOMPILED:
		return tk_precompiled_apply(z, p, n, outn);
	case TK_NORM_REPLACE_RE:
		return replace_re(z, p, n, outn);
	case TK_NORM_STRIP: {
		size_t a = 0, b = n, l;
		while (z->left && a < b && tk_is_space(tk_utf8_next((const unsigned char *)p + a, &l)))
			a += l;
		while (z->right && b > a) {
			size_t j = b - 1;
			while (j > a && ((unsigned char)p[j] & 0xC0) == 0x80)
				j--;
			if (!tk_is_space(tk_utf8_next((const unsigned char *)p + j, &l)))
				break;
			b = j;
		}
		if (a == 0 && b == n)
			return (char *)p;
		char *d = malloc(b - a + 1);
		if (!d)
			return NULL;
		memcpy(d, p + a, b - a);
		d[b - a] = 0;
		*outn = b - a;
		*cut |= a > 0;
		return d;
	}
	}
	return (char *)p;
}

/* Every normalizer of t on p[0..n): p itself when nothing changed, else a malloc'd string;
 * NULL on ENOMEM. */
static char *norm_all(const struct tokenizer *t, const char *p, size_t n, size_t *outn, int *cut)
{
	char *cur = (char *)p;
	size_t m = n;
	*cut = 0;
	for (uint32_t i = 0; i < t->n_norms; i++) {
		size_t k;
		char *d = norm_one(&t->norms[i], cur, m, &k, cut);
		if (!d) {
			if (cur != p)
				free(cur);
			return NULL;
		}
		if (d != cur && cur != p)
			free(cur);
		cur = d;
		m = k;
	}
	*outn = m;
	return cur;
}

const char *tk_normalize(struct tk_scratch *s, const char *p, size_t n, size_t *outn)
{
	const struct tokenizer *t = s->t;
	*outn = n;
	s->lead_cut = 0;
	if (t->n_norms == 0 || (t->n_norms == 1 && t->nfc && nfc_quick(p, n)))
		return p;
	size_t m;
	char *d = norm_all(t, p, n, &m, &s->lead_cut);
	if (d == p)
		return p;
	char *a = d ? tk_arena_alloc(s, m + 1) : NULL;
	if (!a) {
		free(d);
		s->oom = 1;
		return p;
	}
	memcpy(a, d, m);
	a[m] = 0;
	free(d);
	*outn = m;
	return a;
}

char *tk_normalize_dup(const struct tokenizer *t, const char *p, size_t n, size_t *outn)
{
	int cut;
	char *d = t ? norm_all(t, p, n, outn, &cut) : (char *)p;
	if (d != p)
		return d;
	d = malloc(n + 1);
	if (d) {
		memcpy(d, p, n);
		d[n] = 0;
		*outn = n;
	}
	return d;
}

/* ---- loading ---- */

int tk_json_str(json_t *o, const char *k, int one_char, const char *field, const char *path,
                char **out, uint32_t *len, struct qt_err *err)
{
	json_t *v = json_object_get(o, k);
	*out = NULL;
	if (!json_is_string(v))
		return qt_err_set(err, QT_EDATA, "%s: %s.%s: expected a string", path, field, k);
	size_t n = json_string_length(v), l = 0;
	const char *s = json_string_value(v);
	if (one_char && (n == 0 || (tk_utf8_next((const unsigned char *)s, &l), l != n)))
		return qt_err_set(err, QT_EDATA, "%s: %s.%s: expected exactly one character, not "
		                  "\"%s\"", path, field, k, s);
	if (!(*out = malloc(n + 1)))
		return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
	memcpy(*out, s, n + 1);
	*len = (uint32_t)n;
	return QT_OK;
}

int tk_json_pattern(json_t *o, const char *field, const char *path, char **out, uint32_t *len,
                    struct qt_err *err)
{
	json_t *pat = json_object_get(o, "pattern");
	char sub[300];
	snprintf(sub, sizeof sub, "%s.pattern", field);
	*out = NULL;
	if (json_is_object(pat) && json_object_get(pat, "Regex"))
		return qt_err_set(err, QT_EDATA, "%s: %s: a {\"Regex\": ...} pattern is not "
		                  "supported here (only {\"String\": ...})", path, sub);
	if (!json_is_object(pat))
		return qt_err_set(err, QT_EDATA, "%s: %s: expected {\"String\": ...}", path, sub);
	int rc = tk_json_str(pat, "String", 0, sub, path, out, len, err);
	if (rc == QT_OK && *len == 0) {
		free(*out);
		*out = NULL;
		return qt_err_set(err, QT_EDATA, "%s: %s.String: empty pattern", path, sub);
	}
	return rc;
}

static struct tk_norm *new_norm(struct tokenizer *t, enum tk_norm_kind kind)
{
	struct tk_norm *z = realloc(t->norms, (t->n_norms + 1) * sizeof *z);
	if (!z)
		return NULL;
	t->norms = z;
	z = &z[t->n_norms++];
	memset(z, 0, sizeof *z);
	z->kind = kind;
	return z;
}

/* A Replace's {"Regex": ...} pattern, compiled; one that matches "" is refused. */
static int load_regex(struct tk_norm *z, json_t *pat, const char *field, const char *path,
                      struct qt_err *err)
{
	json_t *rx = json_object_get(pat, "Regex");
	if (!json_is_string(rx))
		return qt_err_set(err, QT_EDATA, "%s: %s.pattern.Regex: expected a string", path,
		                  field);
	char msg[256];
	z->re = tk_regex_compile(json_string_value(rx), json_string_length(rx), msg, sizeof msg);
	if (!z->re)
		return qt_err_set(err, QT_EDATA, "%s: %s.pattern.Regex: %s", path, field, msg);
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(z->re, NULL);
	if (!md)
		return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
	int rc = pcre2_match(z->re, (PCRE2_SPTR)"", 0, 0, 0, md, NULL);
	pcre2_match_data_free(md);
	if (rc > 0)
		return qt_err_set(err, QT_EDATA, "%s: %s.pattern.Regex: \"%s\" matches the empty "
		                  "string (not supported)", path, field, json_string_value(rx));
	return QT_OK;
}

static int b64(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 :
	       c >= '0' && c <= '9' ? c - '0' + 52 : c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Precompiled's precompiled_charsmap: standard base64 of the SentencePiece blob. */
static int load_precompiled(struct tk_norm *z, json_t *nz, const char *field, const char *path,
                            struct qt_err *err)
{
	json_t *v = json_object_get(nz, "precompiled_charsmap");
	if (!json_is_string(v))
		return qt_err_set(err, QT_EDATA, "%s: %s.precompiled_charsmap: expected a base64 "
		                  "string", path, field);
	const char *s = json_string_value(v);
	size_t n = json_string_length(v), o = 0;
	if (n == 0)
		return qt_err_set(err, QT_EDATA, "%s: %s.precompiled_charsmap: empty (an empty map "
		                  "is not supported)", path, field);
	unsigned char *d = malloc(n / 4 * 3 + 3);
	if (!d)
		return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
	uint32_t acc = 0;
	int bits = 0;
	size_t i = 0;
	for (; i < n && s[i] != '='; i++) {
		int x = b64((unsigned char)s[i]);
		if (x < 0)
			break;
		acc = acc << 6 | (uint32_t)x;
		if ((bits += 6) >= 8) {
			bits -= 8;
			d[o++] = (unsigned char)(acc >> bits);
		}
	}
	size_t pad = 0;
	while (i < n && s[i] == '=' && pad < 2)
		i++, pad++;
	if (i != n || (n % 4 != 0)) {
		free(d);
		return qt_err_set(err, QT_EDATA, "%s: %s.precompiled_charsmap: not base64 (at "
		                  "character %zu)", path, field, i);
	}
	char msg[256];
	int rc = tk_precompiled_init(z, d, o, msg, sizeof msg);
	free(d);
	if (rc != 0)
		return qt_err_set(err, QT_EDATA, "%s: %s.%s", path, field, msg);
	return QT_OK;
}

static int load_one(struct tokenizer *t, json_t *nz, const char *field, const char *path,
                    struct qt_err *err)
{
	if (!nz || json_is_null(nz))
		return QT_OK;
	const char *type = json_string_value(json_object_get(nz, "type"));
	if (!json_is_object(nz) || !type)
		return qt_err_set(err, QT_EDATA, "%s: %s: expected an object with a \"type\"", path,
		                  field);
	if (strcmp(type, "Sequence") == 0) {
		json_t *a = json_object_get(nz, "normalizers");
		if (!json_is_array(a))
			return qt_err_set(err, QT_EDATA, "%s: %s.normalizers: expected an array",
			                  path, field);
		for (size_t i = 0; i < json_array_size(a); i++) {
			char sub[256];
			snprintf(sub, sizeof sub, "%s.normalizers[%zu]", field, i);
			int rc = load_one(t, json_array_get(a, i), sub, path, err);
			if (rc != QT_OK)
				return rc;
		}
		return QT_OK;
	}
	enum tk_norm_kind kind;
	if (strcmp(type, "NFC") == 0)
		kind = TK_NORM_NFC;
	else if (strcmp(type, "Prepend") == 0)
		kind = TK_NORM_PREPEND;
	else if (strcmp(type, "Replace") == 0)
		kind = TK_NORM_REPLACE;
	else if (strcmp(type, "Strip") == 0)
		kind = TK_NORM_STRIP;
	else if (strcmp(type, "Precompiled") == 0)
		kind = TK_NORM_PRECOMPILED;
	else
		return qt_err_set(err, QT_EDATA, "%s: %s.type: unsupported normalizer \"%s\" "
		                  "(supported: null, NFC, Prepend, Replace, Strip, Precompiled, "
		                  "Sequence)", path, field, type);
	json_t *pat = json_object_get(nz, "pattern");
	if (kind == TK_NORM_REPLACE && json_is_object(pat) && json_object_get(pat, "Regex"))
		kind = TK_NORM_REPLACE_RE;
	struct tk_norm *z = new_norm(t, kind);
	if (!z)
		return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
	int rc = QT_OK;
	if (kind == TK_NORM_NFC) {
		t->nfc = 1;
	} else if (kind == TK_NORM_PREPEND) {
		rc = tk_json_str(nz, "prepend", 0, field, path, &z->a, &z->alen, err);
	} else if (kind == TK_NORM_REPLACE) {
		if ((rc = tk_json_pattern(nz, field, path, &z->a, &z->alen, err)) == QT_OK)
			rc = tk_json_str(nz, "content", 0, field, path, &z->b, &z->blen, err);
	} else if (kind == TK_NORM_REPLACE_RE) {
		if ((rc = load_regex(z, pat, field, path, err)) == QT_OK)
			rc = tk_json_str(nz, "content", 0, field, path, &z->b, &z->blen, err);
	} else if (kind == TK_NORM_PRECOMPILED) {
		rc = load_precompiled(z, nz, field, path, err);
	} else {
		json_t *l = json_object_get(nz, "strip_left"), *r = json_object_get(nz, "strip_right");
		if (!json_is_boolean(l) || !json_is_boolean(r))
			return qt_err_set(err, QT_EDATA, "%s: %s: expected strip_left and strip_right "
			                  "(true or false)", path, field);
		z->left = json_is_true(l);
		z->right = json_is_true(r);
	}
	return rc;
}

int tk_normalizer_load(struct tokenizer *t, json_t *nz, const char *path, struct qt_err *err)
{
	int rc = load_one(t, nz, "normalizer", path, err);
	if (rc == QT_OK && t->nfc) {
		pthread_once(&nfc_once, nfc_init);
		if (!nfc_busy)
			return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
	}
	return rc;
}

void tk_normalizer_free(struct tokenizer *t)
{
	for (uint32_t i = 0; i < t->n_norms; i++) {
		free(t->norms[i].a);
		free(t->norms[i].b);
		pcre2_code_free(t->norms[i].re);
		free(t->norms[i].units);
		free(t->norms[i].norm);
	}
	free(t->norms);
	free(t->spm_map.units);
	free(t->spm_map.norm);
}

/* qlora-tools: ISC license. */
/*
 * Normalizers of tokenizer.json (null, NFC, Sequence of those) and the Unicode character
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

const char *tk_normalize(struct tk_scratch *s, const char *p, size_t n, size_t *outn)
{
	*outn = n;
	if (!s->t->nfc || nfc_quick(p, n))
		return p;
	size_t m;
	char *d = nfc_hf(p, n, &m);
	char *a = d ? tk_arena_alloc(s, m + 1) : NULL;
	if (!a) {
		free(d);
		s->oom = 1;
		return p;
	}
	memcpy(a, d, m);
	free(d);
	*outn = m;
	return a;
}

char *tk_normalize_dup(const struct tokenizer *t, const char *p, size_t n, size_t *outn)
{
	if (t && t->nfc)
		return nfc_hf(p, n, outn);
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, p, n);
		d[n] = 0;
		*outn = n;
	}
	return d;
}

/* ---- loading ---- */

static int load_one(struct tokenizer *t, json_t *nz, const char *field, const char *path,
                    struct qt_err *err)
{
	if (!nz || json_is_null(nz))
		return QT_OK;
	const char *type = json_string_value(json_object_get(nz, "type"));
	if (!json_is_object(nz) || !type)
		return qt_err_set(err, QT_EDATA, "%s: %s: expected an object with a \"type\"", path,
		                  field);
	if (strcmp(type, "NFC") == 0) {
		t->nfc = 1;
		return QT_OK;
	}
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
	return qt_err_set(err, QT_EDATA, "%s: %s.type: unsupported normalizer \"%s\" (supported: "
	                  "null, NFC, Sequence)", path, field, type);
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

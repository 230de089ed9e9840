/* qlora-tools: ISC license. */
/*
 * Pre-tokenizers of tokenizer.json: ByteLevel, Split, Digits, Metaspace and Sequence
 * (reference.md 1.4, 1.5). Regexes are Oniguruma syntax in the file and run on PCRE2 (JIT) after translating the
 * escapes whose meaning differs. Each step re-splits the pieces of the previous one; pieces
 * are processed depth first (a piece goes through all later steps and the model before its
 * right neighbour is split), which gives HF's breadth-first result because every step works
 * on each piece alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "formats/tokenizer/internal.h"

/* ---- Oniguruma (Ruby syntax, UTF-8) to PCRE2 ---- */

#define ONIG_SPACE "\\t-\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}" \
                   "\\x{202F}\\x{205F}\\x{3000}"
#define ONIG_WORD  "\\p{L}\\p{M}\\p{N}\\p{Pc}"
#define ONIG_HEX   "0-9a-fA-F"
/* Letters and numbers of Unicode 15 and 16 that Oniguruma 6.9.10 (tokenizers 0.23.3) has and
 * PCRE2 10.42 (Unicode 14) lacks, added to \p{L} and \p{N} (found by classifying every code
 * point with both engines). */
#define ONIG_L_NEW "\\x{1C89}-\\x{1C8A}\\x{A7CB}-\\x{A7CD}\\x{A7DA}-\\x{A7DC}\\x{105C0}-\\x{105F3}" \
	"\\x{10D4A}-\\x{10D65}\\x{10D6F}-\\x{10D85}\\x{10EC2}-\\x{10EC4}\\x{1123F}-\\x{11240}" \
	"\\x{11380}-\\x{11389}\\x{1138B}\\x{1138E}\\x{11390}-\\x{113B5}\\x{113B7}\\x{113D1}\\x{113D3}" \
	"\\x{11BC0}-\\x{11BE0}\\x{11F02}\\x{11F04}-\\x{11F10}\\x{11F12}-\\x{11F33}\\x{1342F}" \
	"\\x{13441}-\\x{13446}\\x{13460}-\\x{143FA}\\x{16100}-\\x{1611D}\\x{16D40}-\\x{16D6C}" \
	"\\x{18CFF}\\x{1B132}\\x{1B155}\\x{1DF25}-\\x{1DF2A}\\x{1E030}-\\x{1E06D}\\x{1E4D0}-\\x{1E4EB}" \
	"\\x{1E5D0}-\\x{1E5ED}\\x{1E5F0}\\x{2B739}\\x{2EBF0}-\\x{2EE5D}\\x{31350}-\\x{323AF}"
#define ONIG_N_NEW "\\x{10D40}-\\x{10D49}\\x{116D0}-\\x{116E3}\\x{11BF0}-\\x{11BF9}\\x{11F50}-\\x{11F59}" \
	"\\x{16130}-\\x{16139}\\x{16D70}-\\x{16D79}\\x{1CCF0}-\\x{1CCF9}\\x{1D2C0}-\\x{1D2D3}" \
	"\\x{1E4F0}-\\x{1E4F9}\\x{1E5F1}-\\x{1E5FA}"

/* Translates \s \S \h \H \w \W to explicit classes and widens \p{L} \p{N} to Oniguruma's
 * Unicode version; everything else is copied. Returns 0, or -1 with msg for an escape PCRE2
 * cannot express in that position. */
static int translate(const char *pat, size_t len, struct qt_buf *o, char *msg, size_t msgsz)
{
	int in_class = 0;
	for (size_t i = 0; i < len; i++) {
		char c = pat[i];
		if (c == '\\' && i + 1 < len) {
			char e = pat[++i];
			const char *cls = e == 's' || e == 'S' ? ONIG_SPACE :
			                  e == 'h' || e == 'H' ? ONIG_HEX :
			                  e == 'w' || e == 'W' ? ONIG_WORD : NULL;
			if (e == 'p' && i + 3 < len && pat[i + 1] == '{' && pat[i + 3] == '}' &&
			    (pat[i + 2] == 'L' || pat[i + 2] == 'N')) {
				if (!in_class)
					qt_buf_str(o, "[");
				qt_buf_str(o, pat[i + 2] == 'L' ? "\\p{L}" ONIG_L_NEW : "\\p{N}" ONIG_N_NEW);
				if (!in_class)
					qt_buf_str(o, "]");
				i += 3;
				continue;
			}
			if (!cls) {
				char two[2] = { '\\', e };
				qt_buf_add(o, two, 2);
				continue;
			}
			int neg = e == 'S' || e == 'H' || e == 'W';
			if (in_class && neg) {
				if (e == 'S') {
					qt_buf_str(o, "\\P{White_Space}");
					continue;
				}
				snprintf(msg, msgsz, "\\%c inside a character class is not supported", e);
				return -1;
			}
			if (!in_class)
				qt_buf_str(o, neg ? "[^" : "[");
			qt_buf_str(o, cls);
			if (!in_class)
				qt_buf_str(o, "]");
			continue;
		}
		if (!in_class && c == '[') {
			in_class = 1;
			qt_buf_add(o, &c, 1);
			if (i + 1 < len && pat[i + 1] == '^')
				qt_buf_add(o, &pat[++i], 1);
			if (i + 1 < len && pat[i + 1] == ']')
				qt_buf_add(o, &pat[++i], 1); /* a literal ] first in the class */
			continue;
		}
		if (in_class && c == '[' && i + 1 < len && pat[i + 1] == ':') {
			const char *end = strstr(pat + i, ":]");
			if (end && (size_t)(end - pat) < len) {
				qt_buf_add(o, pat + i, (size_t)(end + 2 - (pat + i)));
				i = (size_t)(end + 1 - pat);
				continue;
			}
		}
		if (in_class && c == '[') {
			in_class++; /* Oniguruma nested class */
		} else if (in_class && c == ']') {
			in_class--;
		}
		qt_buf_add(o, &c, 1);
	}
	return 0;
}

pcre2_code *tk_regex_compile(const char *pat, size_t len, char *msg, size_t msgsz)
{
	struct qt_buf o = { 0 };
	if (translate(pat, len, &o, msg, msgsz) != 0 || o.oom) {
		if (o.oom)
			snprintf(msg, msgsz, "out of memory");
		qt_buf_free(&o);
		return NULL;
	}
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)(o.p ? o.p : ""), o.n,
	                               PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &ec, &eo, NULL);
	if (!re) {
		PCRE2_UCHAR m[256];
		pcre2_get_error_message(ec, m, sizeof m);
		snprintf(msg, msgsz, "regex error at offset %zu of \"%s\": %s", (size_t)eo,
		         o.p ? o.p : "", (char *)m);
		qt_buf_free(&o);
		return NULL;
	}
	qt_buf_free(&o);
	pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter if it fails */
	return re;
}

static const char gpt2_pat[] =
	"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static pcre2_code *gpt2_re;
static pthread_once_t gpt2_once = PTHREAD_ONCE_INIT;

static void gpt2_init(void)
{
	char msg[256];
	gpt2_re = tk_regex_compile(gpt2_pat, sizeof gpt2_pat - 1, msg, sizeof msg);
}

pcre2_code *tk_gpt2_regex(void)
{
	pthread_once(&gpt2_once, gpt2_init);
	return gpt2_re;
}

/* ---- loading ---- */

static const char *const behaviors[] = {
	[TK_REMOVED] = "Removed", [TK_ISOLATED] = "Isolated",
	[TK_MERGED_PREV] = "MergedWithPrevious", [TK_MERGED_NEXT] = "MergedWithNext",
	[TK_CONTIGUOUS] = "Contiguous",
};

static int get_bool(json_t *o, const char *k, int def, int *out, const char *field,
                    const char *path, struct qt_err *err)
{
	json_t *v = json_object_get(o, k);
	*out = def;
	if (!v || json_is_null(v))
		return QT_OK;
	if (!json_is_boolean(v))
		return qt_err_set(err, QT_EDATA, "%s: %s.%s: expected true or false", path, field, k);
	*out = json_is_true(v);
	return QT_OK;
}

static int load_split(struct tk_step *st, json_t *o, const char *field, const char *path,
                      struct qt_err *err)
{
	json_t *pat = json_object_get(o, "pattern"), *rx = json_object_get(pat, "Regex");
	json_t *str = json_object_get(pat, "String");
	const char *b = json_string_value(json_object_get(o, "behavior"));
	json_t *inv = json_object_get(o, "invert");
	if (!json_is_string(rx) && !json_is_string(str))
		return qt_err_set(err, QT_EDATA, "%s: %s.pattern: expected {\"Regex\": ...} or "
		                  "{\"String\": ...}", path, field);
	if (!b)
		return qt_err_set(err, QT_EDATA, "%s: %s.behavior: missing", path, field);
	size_t k;
	for (k = 0; k < sizeof behaviors / sizeof *behaviors; k++)
		if (strcmp(b, behaviors[k]) == 0)
			break;
	if (k == sizeof behaviors / sizeof *behaviors)
		return qt_err_set(err, QT_EDATA, "%s: %s.behavior: unknown behavior \"%s\"", path,
		                  field, b);
	if (!json_is_boolean(inv))
		return qt_err_set(err, QT_EDATA, "%s: %s.invert: expected true or false", path,
		                  field);
	st->kind = TK_SPLIT;
	st->behavior = (enum tk_behavior)k;
	st->invert = json_is_true(inv);
	char msg[512];
	if (json_is_string(rx)) {
		st->re = tk_regex_compile(json_string_value(rx), json_string_length(rx), msg,
		                          sizeof msg);
	} else {
		/* a literal: escape every ASCII punctuation character */
		struct qt_buf e = { 0 };
		const char *s = json_string_value(str);
		for (size_t i = 0; i < json_string_length(str); i++) {
			if ((unsigned char)s[i] < 0x80 && !((s[i] >= '0' && s[i] <= '9') ||
			    (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
				qt_buf_add(&e, "\\", 1);
			qt_buf_add(&e, s + i, 1);
		}
		st->re = e.oom ? NULL : tk_regex_compile(e.p ? e.p : "", e.n, msg, sizeof msg);
		if (e.oom)
			snprintf(msg, sizeof msg, "out of memory");
		qt_buf_free(&e);
	}
	if (!st->re)
		return qt_err_set(err, QT_EDATA, "%s: %s.pattern: %s", path, field, msg);
	return QT_OK;
}

int tk_json_prepend_scheme(json_t *o, const char *field, const char *path,
                           enum tk_prepend *out, struct qt_err *err)
{
	json_t *ps = json_object_get(o, "prepend_scheme"), *aps = json_object_get(o,
	                                                                          "add_prefix_space");
	const char *scheme = json_string_value(ps);
	*out = TK_PREPEND_ALWAYS; /* HF's default */
	if (ps) {
		if (scheme && strcmp(scheme, "first") == 0)
			*out = TK_PREPEND_FIRST;
		else if (scheme && strcmp(scheme, "never") == 0)
			*out = TK_PREPEND_NEVER;
		else if (!scheme || strcmp(scheme, "always") != 0)
			return qt_err_set(err, QT_EDATA, "%s: %s.prepend_scheme: expected \"first\", "
			                  "\"always\" or \"never\"", path, field);
	}
	if (aps && !json_is_boolean(aps))
		return qt_err_set(err, QT_EDATA, "%s: %s.add_prefix_space: expected true or false",
		                  path, field);
	if (aps && json_is_true(aps) != (*out != TK_PREPEND_NEVER))
		return qt_err_set(err, QT_EDATA, "%s: %s.add_prefix_space: %s does not match "
		                  "prepend_scheme \"%s\" (HF refuses this file)", path, field,
		                  json_is_true(aps) ? "true" : "false", scheme ? scheme : "always");
	return QT_OK;
}

/* Metaspace: replacement (one character), prepend_scheme ("first", "always", "never"; or the
 * older add_prefix_space: true = always), split. */
static int load_metaspace(struct tk_step *st, json_t *o, const char *field, const char *path,
                          struct qt_err *err)
{
	char *r;
	uint32_t rl;
	int rc = tk_json_str(o, "replacement", 1, field, path, &r, &rl, err);
	if (rc != QT_OK)
		return rc;
	memcpy(st->repl, r, rl + 1);
	st->repl_len = rl;
	free(r);
	st->kind = TK_METASPACE;
	if ((rc = tk_json_prepend_scheme(o, field, path, &st->prepend, err)) != QT_OK)
		return rc;
	return get_bool(o, "split", 1, &st->split, field, path, err);
}

static int add_steps(struct tokenizer *t, json_t *o, const char *field, const char *path,
                     struct qt_err *err)
{
	if (!o || json_is_null(o))
		return QT_OK;
	const char *type = json_string_value(json_object_get(o, "type"));
	if (!json_is_object(o) || !type)
		return qt_err_set(err, QT_EDATA, "%s: %s: expected an object with a \"type\"", path,
		                  field);
	if (strcmp(type, "Sequence") == 0) {
		json_t *a = json_object_get(o, "pretokenizers");
		if (!json_is_array(a))
			return qt_err_set(err, QT_EDATA, "%s: %s.pretokenizers: expected an array",
			                  path, field);
		for (size_t i = 0; i < json_array_size(a); i++) {
			char sub[256];
			snprintf(sub, sizeof sub, "%s.pretokenizers[%zu]", field, i);
			int rc = add_steps(t, json_array_get(a, i), sub, path, err);
			if (rc != QT_OK)
				return rc;
		}
		return QT_OK;
	}
	struct tk_step *ns = realloc(t->steps, (t->n_steps + 1) * sizeof *ns);
	if (!ns)
		return qt_err_set(err, QT_ESOFTWARE, "%s: out of memory", path);
	t->steps = ns;
	struct tk_step *st = &ns[t->n_steps];
	memset(st, 0, sizeof *st);
	int rc, use_regex = 1, trim;
	if (strcmp(type, "ByteLevel") == 0) {
		st->kind = TK_BYTELEVEL;
		if ((rc = get_bool(o, "add_prefix_space", 1, &st->add_prefix_space, field, path,
		                   err)) != QT_OK ||
		    (rc = get_bool(o, "use_regex", 1, &use_regex, field, path, err)) != QT_OK ||
		    (rc = get_bool(o, "trim_offsets", 1, &trim, field, path, err)) != QT_OK)
			return rc;
		if (use_regex && !(st->re = tk_gpt2_regex()))
			return qt_err_set(err, QT_ESOFTWARE, "%s: cannot compile the GPT-2 regex", path);
	} else if (strcmp(type, "Digits") == 0) {
		st->kind = TK_DIGITS;
		if ((rc = get_bool(o, "individual_digits", 0, &st->individual_digits, field, path,
		                   err)) != QT_OK)
			return rc;
	} else if (strcmp(type, "Split") == 0) {
		if ((rc = load_split(st, o, field, path, err)) != QT_OK) {
			t->n_steps++; /* so that tk_pretok_free sees a half-built step */
			return rc;
		}
	} else if (strcmp(type, "Metaspace") == 0) {
		if ((rc = load_metaspace(st, o, field, path, err)) != QT_OK)
			return rc;
	} else {
		return qt_err_set(err, QT_EDATA, "%s: %s.type: unsupported pre-tokenizer \"%s\" "
		                  "(supported: ByteLevel, Split, Digits, Metaspace, Sequence)", path,
		                  field, type);
	}
	t->n_steps++;
	return QT_OK;
}

int tk_pretok_load(struct tokenizer *t, json_t *pt, const char *path, struct qt_err *err)
{
	int rc = add_steps(t, pt, "pre_tokenizer", path, err);
	if (rc == QT_OK && t->n_steps && t->steps[t->n_steps - 1].kind == TK_BYTELEVEL)
		t->steps[t->n_steps - 1].lazy_bytes = 1;
	return rc;
}

void tk_pretok_free(struct tokenizer *t)
{
	for (uint32_t i = 0; i < t->n_steps; i++)
		if (t->steps[i].kind == TK_SPLIT && t->steps[i].re)
			pcre2_code_free(t->steps[i].re);
	free(t->steps);
}

/* ---- running ---- */

static void run(struct tk_scratch *s, uint32_t k, const char *p, size_t n);

/* Behaviour state over the (start, end, is_match) events of one split (HF normalizer.rs). */
struct splitter {
	struct tk_scratch *s;
	uint32_t k;           /* the step after this one */
	const char *p;
	enum tk_behavior b;
	int invert;
	size_t ps, pe;        /* pending piece */
	int have, pm, prev_m;
};

static void emit(struct splitter *sp, size_t a, size_t b)
{
	if (b > a)
		run(sp->s, sp->k, sp->p + a, b - a);
}

static void flush(struct splitter *sp)
{
	if (sp->have)
		emit(sp, sp->ps, sp->pe);
	sp->have = 0;
}

static void pend(struct splitter *sp, size_t a, size_t b, int m)
{
	sp->ps = a;
	sp->pe = b;
	sp->pm = m;
	sp->have = 1;
}

static void event(struct splitter *sp, size_t a, size_t b, int m)
{
	if (sp->invert)
		m = !m;
	switch (sp->b) {
	case TK_REMOVED:
		if (!m)
			emit(sp, a, b);
		break;
	case TK_ISOLATED:
		emit(sp, a, b);
		break;
	case TK_MERGED_PREV:
		if (m && !sp->prev_m && sp->have) {
			sp->pe = b;
		} else {
			flush(sp);
			pend(sp, a, b, m);
		}
		sp->prev_m = m;
		break;
	case TK_MERGED_NEXT:
		if (m) {
			flush(sp);
			pend(sp, a, b, m);
		} else if (sp->have) {
			sp->have = 0;
			emit(sp, sp->ps, b);
		} else {
			emit(sp, a, b);
		}
		break;
	case TK_CONTIGUOUS:
		if (sp->have && sp->pm == m) {
			sp->pe = b;
		} else {
			flush(sp);
			pend(sp, a, b, m);
		}
		break;
	}
}

/* Regex matches over p[0..n) as onig's find_iter gives them (an empty match right after the
 * previous match is skipped by one character), fed to sp as match and gap events. */
static void split_regex(struct tk_scratch *s, pcre2_code *re, const char *p, size_t n,
                        struct splitter *sp)
{
	size_t last_end = 0, last_match_end = (size_t)-1, prev = 0;
	while (last_end <= n) {
		int rc = pcre2_match(re, (PCRE2_SPTR)p, n, last_end, PCRE2_NO_UTF_CHECK, s->md,
		                     s->mctx);
		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0) {
			s->oom = 1; /* match limit or JIT stack: reported as an internal error */
			return;
		}
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
		size_t a = ov[0], b = ov[1];
		if (a == b && last_match_end == b) {
			size_t l = 1;
			if (last_end < n)
				tk_utf8_next((const unsigned char *)p + last_end, &l);
			last_end += l;
			continue;
		}
		last_end = last_match_end = b;
		if (prev != a)
			event(sp, prev, a, 0);
		event(sp, a, b, 1);
		prev = b;
	}
	if (prev != n)
		event(sp, prev, n, 0);
	flush(sp);
}

static void split_digits(const char *p, size_t n, struct splitter *sp)
{
	size_t prev = 0;
	for (size_t i = 0; i < n;) {
		size_t l = 1;
		uint32_t c = (unsigned char)p[i];
		if (c >= 0x80)
			c = tk_utf8_next((const unsigned char *)p + i, &l);
		if (tk_is_numeric(c)) {
			if (prev < i)
				event(sp, prev, i, 0);
			event(sp, i, i + l, 1);
			prev = i + l;
		}
		i += l;
	}
	if (prev < n)
		event(sp, prev, n, 0);
	flush(sp);
}

/* A ByteLevel piece: maps its bytes (or leaves that to the model) and goes on. */
static void bytelevel_piece(struct tk_scratch *s, uint32_t k, const char *p, size_t n)
{
	if (s->t->steps[k].lazy_bytes) {
		tk_bpe_word(s, p, n, 1);
		return;
	}
	char *m = tk_arena_alloc(s, 2 * n + 1);
	if (!m) {
		s->oom = 1;
		return;
	}
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned b = (unsigned char)p[i];
		uint32_t c = b;
		if (!((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE))
			c = 0x100 + (b <= 0x20 ? b : b <= 0xA0 ? b - 0x7F + 0x21 : 0x43);
		if (c < 0x80) {
			m[o++] = (char)c;
		} else {
			m[o++] = (char)(0xC0 | (c >> 6));
			m[o++] = (char)(0x80 | (c & 0x3F));
		}
	}
	run(s, k + 1, m, o);
}

/* Metaspace (HF metaspace.rs): every ' ' becomes the replacement, which is prepended unless
 * the piece starts with it (scheme "always", or "first" for the piece at the input's offset
 * 0), then, with split, the piece is cut before each replacement (MergedWithNext). */
static void metaspace(struct tk_scratch *s, const struct tk_step *st, struct splitter *sp,
                      const char *p, size_t n)
{
	size_t spaces = 0, rl = st->repl_len;
	for (size_t i = 0; i < n; i++)
		spaces += p[i] == ' ';
	int starts = p[0] == ' ' || (n >= rl && memcmp(p, st->repl, rl) == 0);
	int pre = !starts && (st->prepend == TK_PREPEND_ALWAYS ||
	                      (st->prepend == TK_PREPEND_FIRST && p == s->orig0));
	size_t m = n + spaces * (rl - 1) + (pre ? rl : 0), o = 0;
	char *q = tk_arena_alloc(s, m + 1);
	if (!q) {
		s->oom = 1;
		return;
	}
	if (pre) {
		memcpy(q, st->repl, rl);
		o = rl;
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i] == ' ') {
			memcpy(q + o, st->repl, rl);
			o += rl;
		} else {
			q[o++] = p[i];
		}
	}
	if (!st->split) {
		run(s, sp->k, q, m);
		return;
	}
	sp->p = q;
	sp->b = TK_MERGED_NEXT;
	sp->invert = 0;
	size_t prev = 0;
	for (const char *x = q; (x = memmem(x, m - (size_t)(x - q), st->repl, rl)); x += rl) {
		size_t a = (size_t)(x - q);
		if (prev < a)
			event(sp, prev, a, 0);
		event(sp, a, a + rl, 1);
		prev = a + rl;
	}
	if (prev < m)
		event(sp, prev, m, 0);
	flush(sp);
}

static void run(struct tk_scratch *s, uint32_t k, const char *p, size_t n)
{
	const struct tokenizer *t = s->t;
	if (n == 0 || s->oom)
		return;
	if (k == t->n_steps) {
		tk_bpe_word(s, p, n, 0);
		return;
	}
	const struct tk_step *st = &t->steps[k];
	struct tk_arena_mark mark = tk_arena_mark(s);
	struct splitter sp = { s, k + 1, p, st->behavior, st->invert, 0, 0, 0, 0, 0 };
	switch (st->kind) {
	case TK_BYTELEVEL: {
		if (st->add_prefix_space && p[0] != ' ') {
			char *q = tk_arena_alloc(s, n + 1);
			if (!q) {
				s->oom = 1;
				return;
			}
			q[0] = ' ';
			memcpy(q + 1, p, n);
			p = q;
			n++;
		}
		if (!st->re) {
			bytelevel_piece(s, k, p, n);
			break;
		}
		/* GPT-2 regex, Isolated: every match and every gap is a piece */
		size_t last_end = 0, prev = 0;
		while (last_end < n && !s->oom) {
			int rc = pcre2_match(st->re, (PCRE2_SPTR)p, n, last_end, PCRE2_NO_UTF_CHECK,
			                     s->md, s->mctx);
			if (rc == PCRE2_ERROR_NOMATCH)
				break;
			if (rc < 0) {
				s->oom = 1;
				break;
			}
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
			size_t a = ov[0], b = ov[1]; /* this regex never matches empty */
			if (prev < a)
				bytelevel_piece(s, k, p + prev, a - prev);
			bytelevel_piece(s, k, p + a, b - a);
			prev = last_end = b;
		}
		if (prev < n && !s->oom)
			bytelevel_piece(s, k, p + prev, n - prev);
		break;
	}
	case TK_SPLIT:
		sp.b = st->behavior;
		split_regex(s, st->re, p, n, &sp);
		break;
	case TK_METASPACE:
		metaspace(s, st, &sp, p, n);
		break;
	case TK_DIGITS:
		sp.b = st->individual_digits ? TK_ISOLATED : TK_CONTIGUOUS;
		sp.invert = 0;
		split_digits(p, n, &sp);
		break;
	}
	tk_arena_release(s, mark);
}

void tk_pretok_run(struct tk_scratch *s, const char *p, size_t n)
{
	run(s, 0, p, n);
}

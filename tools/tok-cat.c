/* qlora-tools: ISC license. */
/*
 * tok-cat: prints a .tok stream (see tok-cat(1), tok(5)): one JSON line per record, the decoded
 * text with the masked spans marked, or the header and trailer facts. Reads through the
 * checking reader of formats/tok.h, so a truncated or corrupt stream ends with exit 65.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "common/io.h"
#include "common/usage.h"
#include "formats/tok.h"
#include "formats/tokenizer.h"

/* Marks around a masked (not trained) span in --text output: U+00AB and U+00BB. */
#define MASK_OPEN  "\xc2\xab"
#define MASK_CLOSE "\xc2\xbb"

static const char synopsis[] =
	"usage: tok-cat [--info] [--text -t tokenizer.json] [file]\n";

static const char help[] =
	"Print a .tok stream (default stdin): one {\"ids\":[...],\"mask\":[...]} line per\n"
	"record.\n\n"
	"      --text               decoded text instead, masked spans between \xc2\xab and \xc2\xbb,\n"
	"                           a newline after each record\n"
	"  -t, --tokenizer file     tokenizer.json, or the model directory holding it,\n"
	"                           for --text (must match the stream)\n"
	"      --info               header and trailer facts, after checking the stream\n"
	"  -h, --help               this help;   -V, --version: the version\n\n"
	"Example:\n"
	"  tok-cat --text -t models/SmolLM2-135M-Instruct train.tok | less\n";

enum { OPT_TEXT = 256, OPT_INFO, OPT_VERSION };

static const struct option longopts[] = {
	{ "tokenizer", required_argument, NULL, 't'         },
	{ "text",      no_argument,       NULL, OPT_TEXT    },
	{ "info",      no_argument,       NULL, OPT_INFO    },
	{ "help",      no_argument,       NULL, 'h'         },
	{ "version",   no_argument,       NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static void print_json(const struct tok_record *rec)
{
	fputs("{\"ids\":[", stdout);
	for (uint32_t i = 0; i < rec->n; i++)
		printf(i ? ",%" PRIu32 : "%" PRIu32, rec->ids[i]);
	fputs("],\"mask\":[", stdout);
	for (uint32_t i = 0; i < rec->n; i++) {
		if (i)
			putchar(',');
		putchar('0' + rec->mask[i]);
	}
	fputs("]}\n", stdout);
}

static void print_text(const struct tokenizer *tk, const struct tok_record *rec)
{
	struct qt_err err;
	for (uint32_t i = 0; i < rec->n;) {
		uint32_t j = i;
		while (j < rec->n && rec->mask[j] == rec->mask[i])
			j++;
		char *s;
		size_t len;
		if (tokenizer_decode(tk, rec->ids + i, j - i, 0, &s, &len, &err) != QT_OK)
			qt_die_err(&err);
		if (!rec->mask[i])
			fputs(MASK_OPEN, stdout);
		fwrite(s, 1, len, stdout);
		if (!rec->mask[i])
			fputs(MASK_CLOSE, stdout);
		free(s);
		i = j;
	}
	putchar('\n');
}

static void print_id(const char *key, uint32_t id)
{
	if (id == TOK_ID_NONE)
		printf("%s: none\n", key);
	else
		printf("%s: %" PRIu32 "\n", key, id);
}

int main(int argc, char **argv)
{
	qt_set_progname(argv[0]);
	qt_usage_init(synopsis, help);
	char *tk_path = NULL;
	int text = 0, info = 0, c;
	while ((c = getopt_long(argc, argv, "t:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 't':         tk_path = optarg; break;
		case OPT_TEXT:    text = 1; break;
		case OPT_INFO:    info = 1; break;
		case 'h':         qt_usage(0);
		case 'V':
		case OPT_VERSION: qt_version();
		default:          qt_usage(QT_EUSAGE);
		}
	}
	if (argc - optind > 1)
		qt_usage_error("one input at most");
	if (text != !!tk_path || (text && info))
		qt_usage_error("%s", info ? "--info and --text exclude each other"
		                          : "--text and -t go together");
	const char *path = optind < argc ? argv[optind] : "-";
	struct qt_err err;
	struct tokenizer *tk = NULL;
	if (tk_path && !(tk_path = qt_path_in_dir(tk_path, "tokenizer.json")))  /* -t DIR */
		qt_die(QT_ESOFTWARE, "out of memory");
	if (tk_path && tokenizer_load(tk_path, &tk, &err) != QT_OK)
		qt_die_err(&err);
	struct tok_reader r;
	if (tok_reader_open(&r, path, &err) != QT_OK)
		qt_die_err(&err);
	if (tk && tokenizer_fingerprint(tk) != r.header.tokenizer_fingerprint)
		qt_die(QT_EDATA, "%s: the stream was made with another tokenizer (fingerprint "
		       "%016" PRIx64 ", %s has %016" PRIx64 ")", r.name, r.header.tokenizer_fingerprint,
		       tk_path, tokenizer_fingerprint(tk));
	struct tok_record rec;
	uint64_t trained = 0;
	int rc;
	while ((rc = tok_reader_next(&r, &rec, &err)) == 1) {
		if (info)
			for (uint32_t i = 0; i < rec.n; i++)
				trained += rec.mask[i];
		else if (text)
			print_text(tk, &rec);
		else
			print_json(&rec);
	}
	if (rc < 0) {
		fflush(stdout);
		qt_die_err(&err);
	}
	if (info) {
		const struct tok_header *h = &r.header;
		printf("format: .tok version %" PRIu32 "\n", h->version);
		printf("header_size: %" PRIu32 "\n", h->header_size);
		printf("flags: %" PRIu64 "\n", h->flags);
		printf("tokenizer_fingerprint: %016" PRIx64 "\n", h->tokenizer_fingerprint);
		printf("vocab_size: %" PRIu32 "\n", h->vocab_size);
		print_id("eos_id", h->eos_id);
		print_id("pad_id", h->pad_id);
		printf("records: %" PRIu64 "\n", r.n_records);
		printf("tokens: %" PRIu64 "\n", r.n_tokens);
		printf("trained_tokens: %" PRIu64 "\n", trained);
		printf("trailer: ok (counts and XXH3-64 checksum match)\n");
	}
	tok_reader_close(&r);
	if (tk)
		tokenizer_free(tk);
	free(tk_path);
	if (qt_stdout_close(&err) != QT_OK)
		qt_die_err(&err);
	return 0;
}

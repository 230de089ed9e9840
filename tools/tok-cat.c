/* qlora-tools: ISC license. */
/*
 * tok-cat: prints a .tok stream (see tok-cat(1), tok(5)): one JSON line per record, the decoded
 * text with the masked spans marked, or the header and trailer facts. Parses options and calls
 * tok_cat_run (jobs/tok_cat.h); a truncated or corrupt stream ends with exit 65.
 */
#include <getopt.h>
#include <stdio.h>

#include "common/err.h"
#include "common/io.h"
#include "common/usage.h"
#include "jobs/tok_cat.h"

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
	if (tok_cat_run(path, tk_path, info ? TOK_CAT_INFO : text ? TOK_CAT_TEXT : TOK_CAT_JSON,
	                &err) != QT_OK)
		qt_die_err(&err);
	if (qt_stdout_close(&err) != QT_OK)
		qt_die_err(&err);
	return 0;
}

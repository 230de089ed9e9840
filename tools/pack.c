/* qlora-tools: ISC license. */
/*
 * pack: .tok streams to fixed-length .pack training blocks (see pack(1), pack(5)).
 * Parses options and calls packer_run, packer_info or packer_cat (jobs/pack_job.h).
 */
#include <getopt.h>
#include <stdio.h>

#include "common/args.h"
#include "common/err.h"
#include "common/io.h"
#include "common/progress.h"
#include "common/usage.h"
#include "jobs/pack_job.h"

static const char synopsis[] =
	"usage: pack [-qv] [--progress] [--cross-doc-attention] [--dedup | --no-dedup]\n"
	"            [--long drop|truncate|split] [--max-blocks n] [--mode pack|pad|concat]\n"
	"            [--no-shuffle] [--seed n] [--seq-len n] [--shard-blocks n]\n"
	"            [--val fraction] [--val-count n] [--val-out file] -o file [file.tok ...]\n"
	"       pack --info file.pack\n"
	"       pack --cat file.pack\n";

static const char help[] =
	"Pack tokenized samples (.tok) into fixed-length training blocks (.pack).\n\n"
	"  -o, --output file        output .pack (\"-\" = stdout; with --shard-blocks a\n"
	"                           pattern such as train-%05d.pack)\n"
	"      --seq-len n          tokens per block (default 1024, at most 65535)\n"
	"      --mode m             pack: several samples per block, best-fit\n"
	"                           decreasing (default); pad: one sample per block;\n"
	"                           concat: documents joined by eos, cut every n\n"
	"      --cross-doc-attention  concat: one segment per block\n"
	"      --long p             samples longer than --seq-len: drop (default),\n"
	"                           truncate, or split into pieces\n"
	"      --seed n             shuffle seed (default 42)\n"
	"      --no-shuffle         keep input order\n"
	"      --dedup, --no-dedup  remove exact duplicates (default on)\n"
	"      --val fraction       hold out ceil(fraction * samples) for validation\n"
	"      --val-count n        hold out n samples for validation\n"
	"      --val-out file       where the validation blocks go\n"
	"      --max-blocks n       write at most n blocks per output\n"
	"      --shard-blocks n     n blocks per output file\n"
	"      --info file.pack     print header, counts and statistics\n"
	"      --cat file.pack      print one JSON line per block\n"
	"  -q, --quiet              no summary;  --progress: progress on stderr\n"
	"  -v, --verbose            also timings of each stage\n"
	"  -h, --help               this help;   -V, --version: the version\n\n"
	"Example:\n"
	"  pack --seq-len 512 --val-count 100 --val-out val.pack -o train.pack train.tok\n";

enum {
	OPT_SEQ_LEN = 256, OPT_MODE, OPT_CROSS, OPT_LONG, OPT_SEED, OPT_NO_SHUFFLE, OPT_DEDUP,
	OPT_NO_DEDUP, OPT_VAL, OPT_VAL_COUNT, OPT_VAL_OUT, OPT_MAX_BLOCKS, OPT_SHARD_BLOCKS,
	OPT_INFO, OPT_CAT, OPT_PROGRESS, OPT_VERSION, OPT_VERBOSE = 'v',
};

static const struct option longopts[] = {
	{ "output",              required_argument, NULL, 'o'              },
	{ "seq-len",             required_argument, NULL, OPT_SEQ_LEN      },
	{ "mode",                required_argument, NULL, OPT_MODE         },
	{ "cross-doc-attention", no_argument,       NULL, OPT_CROSS        },
	{ "long",                required_argument, NULL, OPT_LONG         },
	{ "seed",                required_argument, NULL, OPT_SEED         },
	{ "no-shuffle",          no_argument,       NULL, OPT_NO_SHUFFLE   },
	{ "dedup",               no_argument,       NULL, OPT_DEDUP        },
	{ "no-dedup",            no_argument,       NULL, OPT_NO_DEDUP     },
	{ "val",                 required_argument, NULL, OPT_VAL          },
	{ "val-count",           required_argument, NULL, OPT_VAL_COUNT    },
	{ "val-out",             required_argument, NULL, OPT_VAL_OUT      },
	{ "max-blocks",          required_argument, NULL, OPT_MAX_BLOCKS   },
	{ "shard-blocks",        required_argument, NULL, OPT_SHARD_BLOCKS },
	{ "info",                required_argument, NULL, OPT_INFO         },
	{ "cat",                 required_argument, NULL, OPT_CAT          },
	{ "quiet",               no_argument,       NULL, 'q'              },
	{ "progress",            no_argument,       NULL, OPT_PROGRESS     },
	{ "verbose",             no_argument,       NULL, 'v'              },
	{ "help",                no_argument,       NULL, 'h'              },
	{ "version",             no_argument,       NULL, OPT_VERSION      },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	static const char *const modes[] = { "pack", "pad", "concat", NULL };
	static const char *const longs[] = { "drop", "truncate", "split", NULL };
	struct packer_opts o;
	const char *info = NULL, *cat = NULL;
	struct qt_err err;
	int c;

	qt_set_progname(argv[0]);
	qt_usage_init(synopsis, help);
	qt_progress_auto();
	packer_opts_init(&o);
	while ((c = getopt_long(argc, argv, "o:qhvV", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':              o.out = optarg; break;
		case OPT_SEQ_LEN:      o.seq_len = (uint32_t)qt_arg_i64("--seq-len", optarg, 1,
		                                                        PACK_MAX_SEQ_LEN); break;
		case OPT_MODE:         o.mode = PACK_MODE_PACK + (uint32_t)qt_arg_word("--mode", optarg,
		                                                                       modes); break;
		case OPT_CROSS:        o.cross_doc = 1; break;
		case OPT_LONG:         o.long_policy = qt_arg_word("--long", optarg, longs); break;
		case OPT_SEED:         o.seed = qt_arg_u64("--seed", optarg); break;
		case OPT_NO_SHUFFLE:   o.shuffle = 0; break;
		case OPT_DEDUP:        o.dedup = 1; break;
		case OPT_NO_DEDUP:     o.dedup = 0; break;
		case OPT_VAL:          if (qt_parse_double(optarg, 0, 1, &o.val_fraction) != 0 ||
		                           o.val_fraction <= 0 || o.val_fraction >= 1)
		                               qt_usage_error("--val: \"%s\" is not a fraction in (0, 1)",
		                                              optarg);
		                       break;
		case OPT_VAL_COUNT:    o.val_count = qt_arg_i64("--val-count", optarg, 1, INT64_MAX); break;
		case OPT_VAL_OUT:      o.val_out = optarg; break;
		case OPT_MAX_BLOCKS:   o.max_blocks = qt_arg_i64("--max-blocks", optarg, 1, INT64_MAX); break;
		case OPT_SHARD_BLOCKS: o.shard_blocks = qt_arg_i64("--shard-blocks", optarg, 1,
		                                                   INT64_MAX); break;
		case OPT_INFO:         info = optarg; break;
		case OPT_CAT:          cat = optarg; break;
		case 'q':              qt_verbosity = 1; break;
		case OPT_VERBOSE:      qt_verbosity = 4; break;
		case OPT_PROGRESS:     qt_verbosity = 3; break;
		case 'h':              qt_usage(0);
		case 'V':
		case OPT_VERSION:      qt_version();
		default:               qt_usage(QT_EUSAGE);
		}
	}
	if (info || cat) {
		if ((info && cat) || optind < argc || o.out)
			qt_usage_error("%s takes one file and no other operands or -o",
			               info ? "--info" : "--cat");
		int st = info ? packer_info(info, stdout, &err) : packer_cat(cat, stdout, &err);
		if (st == QT_OK)
			st = qt_stdout_close(&err);
		if (st != QT_OK)
			qt_die_err(&err);
		return 0;
	}
	if (!o.out)
		qt_usage_error("no output file: give -o file");

	static char *stdin_only[] = { "-", NULL };
	char **inputs = optind < argc ? argv + optind : stdin_only;
	int n_inputs = optind < argc ? argc - optind : 1;
	struct packer_stats stats;
	qt_out_cleanup_on_signal();
	int st = packer_run(&o, inputs, n_inputs, &stats, &err);
	if (st == QT_EUSAGE)
		qt_usage_error("%s", err.msg);
	if (st != QT_OK)
		qt_die_err(&err);
	if (qt_verbosity >= 2)
		packer_stats_print(&stats, &o, stderr, qt_progname);
	return 0;
}

/* qlora-tools: ISC license. */
/* rouge-zh: ChatGLM's evaluation (jieba + rouge_chinese + BLEU-4), exactly. See rouge-zh(1). */
#include <getopt.h>
#include <stdio.h>

#include "common/err.h"
#include "common/io.h"
#include "common/progress.h"
#include "common/usage.h"
#include "jobs/rouge_zh.h"

static const char synopsis[] =
	"usage: rouge-zh [--char] [--dict file] [--empty zero|hyp|error] [--jieba-dir dir]\n"
	"                [--label-key key] [--mean numpy1|numpy2|naive] [-o file]\n"
	"                [--per-sample file] [--predict-key key] [--threads n]\n"
	"                [--progress | --quiet] [file | --hyp file --ref file]\n";

static const char help[] =
	"Scores predictions against labels as ChatGLM-6B's compute_metrics does:\n"
	"jieba words, rouge_chinese ROUGE-1/2/L F, character BLEU-4 (nltk, method3),\n"
	"each x100 rounded to 4 decimals per sample, then averaged like np.mean.\n"
	"Input: JSONL with \"predict\" and \"labels\" strings (file, '-' or none = stdin),\n"
	"or --hyp/--ref text files with one text per line. Output (stdout or -o):\n"
	"{\"rouge-1\": x, \"rouge-2\": x, \"rouge-l\": x, \"bleu-4\": x, \"n\": N}\n"
	"\n"
	"  --char               ROUGE on characters instead of jieba words\n"
	"  --dict file          jieba dictionary (default: the jieba dir's dict.txt)\n"
	"  --empty zero|hyp|error  empty text: ROUGE 0 (default, LLaMA-Factory); 0 for an\n"
	"                       empty prediction only; or fail like THUDM's code\n"
	"  --jieba-dir dir      jieba data (dict.txt, finalseg/prob_*.py); default\n"
	"                       $QT_JIEBA_DIR or " JIEBA_DIR_DEFAULT "\n"
	"  --hyp file, --ref file  two-file mode: predictions and labels, one per line\n"
	"  --label-key key      JSON key of the label (default labels)\n"
	"  --mean numpy1|numpy2|naive  averaging: np.mean of numpy 1.x (default), of\n"
	"                       numpy 2.x, or sum/len (differ only in the last bits)\n"
	"  -o, --output file    metrics JSON (default stdout)\n"
	"  --per-sample file    also write each sample's scores as JSONL\n"
	"  --predict-key key    JSON key of the prediction (default predict)\n"
	"  --threads n          worker threads (default: all CPUs)\n"
	"  --progress, --quiet  force the progress line on / only errors on stderr\n"
	"  -h, --help           this help;  -V, --version: the version\n\n"
	"Example:\n"
	"  rouge-zh -o metrics.json predictions.jsonl\n";

enum { O_CHAR = 256, O_DICT, O_EMPTY, O_JIEBA_DIR, O_HYP, O_REF, O_LABEL_KEY, O_MEAN,
       O_PER_SAMPLE, O_PREDICT_KEY, O_THREADS, O_PROGRESS, O_QUIET, O_HELP, O_VERSION };

static const struct option longopts[] = {
	{ "char",        no_argument,       NULL, O_CHAR        },
	{ "dict",        required_argument, NULL, O_DICT        },
	{ "empty",       required_argument, NULL, O_EMPTY       },
	{ "jieba-dir",   required_argument, NULL, O_JIEBA_DIR   },
	{ "hyp",         required_argument, NULL, O_HYP         },
	{ "ref",         required_argument, NULL, O_REF         },
	{ "label-key",   required_argument, NULL, O_LABEL_KEY   },
	{ "mean",        required_argument, NULL, O_MEAN        },
	{ "output",      required_argument, NULL, 'o'           },
	{ "per-sample",  required_argument, NULL, O_PER_SAMPLE  },
	{ "predict-key", required_argument, NULL, O_PREDICT_KEY },
	{ "threads",     required_argument, NULL, O_THREADS     },
	{ "progress",    no_argument,       NULL, O_PROGRESS    },
	{ "quiet",       no_argument,       NULL, O_QUIET       },
	{ "help",        no_argument,       NULL, O_HELP        },
	{ "version",     no_argument,       NULL, O_VERSION     },
	{ NULL, 0, NULL, 0 },
};

static const char *const empties[] = { "zero", "hyp", "error", NULL };
static const enum chatglm_empty empty_ids[] = { CHATGLM_EMPTY_ZERO, CHATGLM_EMPTY_HYP,
                                                CHATGLM_EMPTY_ERROR };
static const char *const means[] = { "numpy1", "numpy2", "naive", NULL };
static const enum py_mean mean_ids[] = { PY_MEAN_NUMPY1, PY_MEAN_NUMPY2, PY_MEAN_NAIVE };

int main(int argc, char **argv)
{
	qt_set_progname(argv[0]);
	qt_usage_init(synopsis, help);
	qt_progress_auto();
	struct rouge_zh_opts o = { .predict_key = "predict", .label_key = "labels",
	                           .empty = CHATGLM_EMPTY_ZERO, .mean = PY_MEAN_NUMPY1,
	                           .output = "-" };
	int c;
	while ((c = getopt_long(argc, argv, "o:hV", longopts, NULL)) != -1) {
		switch (c) {
		case O_CHAR: o.char_mode = 1; break;
		case O_DICT: o.dict = optarg; break;
		case O_EMPTY: o.empty = empty_ids[qt_arg_word("--empty", optarg, empties)]; break;
		case O_JIEBA_DIR: o.jieba_dir = optarg; break;
		case O_HYP: o.hyp = optarg; break;
		case O_REF: o.ref = optarg; break;
		case O_LABEL_KEY: o.label_key = optarg; break;
		case O_MEAN: o.mean = mean_ids[qt_arg_word("--mean", optarg, means)]; break;
		case 'o': o.output = optarg; break;
		case O_PER_SAMPLE: o.per_sample = optarg; break;
		case O_PREDICT_KEY: o.predict_key = optarg; break;
		case O_THREADS: o.threads = (int)qt_arg_i64("--threads", optarg, 1, 4096); break;
		case O_PROGRESS: qt_verbosity = 3; break;
		case O_QUIET: qt_verbosity = 1; break;
		case 'h':
		case O_HELP: qt_usage(0);
		case 'V':
		case O_VERSION: qt_version();
		default: qt_usage(QT_EUSAGE);
		}
	}
	int nargs = argc - optind;
	if ((o.hyp != NULL) != (o.ref != NULL))
		qt_usage_error("--hyp and --ref go together");
	if (o.hyp && nargs > 0)
		qt_usage_error("give either a JSONL file or --hyp/--ref, not both");
	if (nargs > 1)
		qt_usage_error("unexpected argument '%s'", argv[optind + 1]);
	if (!o.hyp)
		o.input = nargs == 1 ? argv[optind] : "-";
	if (o.char_mode && (o.dict || o.jieba_dir))
		qt_usage_error("--char uses no dictionary: drop --dict/--jieba-dir");
	qt_out_cleanup_on_signal();
	struct qt_err err;
	int rc = rouge_zh_run(&o, &err);
	if (rc)
		qt_die_err(&err);
	if (qt_stdout_close(&err))
		qt_die_err(&err);
	return 0;
}

/* qlora-tools: ISC license. */
/*
 * tok-chatml: JSONL chat records to a .tok stream of ChatML token ids and loss masks (see
 * tok-chatml(1), chat(5), tok(5)). Parses options and calls chat_run (jobs/tok_chatml.h).
 */
#include <getopt.h>
#include <stdio.h>

#include "common/err.h"
#include "common/io.h"
#include "common/progress.h"
#include "common/usage.h"
#include "jobs/tok_chatml.h"

static const char synopsis[] =
	"usage: tok-chatml [-q] [--progress] [--skip-bad] [--chat-config file]\n"
	"                  [--template chatml|file]\n"
	"                  [--format chat|text] [--history-key key] [--max-len n]\n"
	"                  [--max-source-len n] [--max-target-len n] [-o file]\n"
	"                  [--prompt-key key] [--response-key key] [--split-on line|blank]\n"
	"                  [--system text] [--threads n] [--train-on assistant|all]\n"
	"                  -t tokenizer.json [file ...]\n";

static const char help[] =
	"Render JSONL chat records with the model's chat template (or ChatML) and\n"
	"tokenize them into a .tok stream.\n\n"
	"  -t, --tokenizer file     tokenizer.json (BPE), or the model directory\n"
	"                           holding it; the tokenizer_config.json beside it\n"
	"                           gives the chat template\n"
	"      --chat-config file   tokenizer_config.json to use instead\n"
	"      --template t         chatml: plain ChatML; or a Jinja template file\n"
	"                           (default: the model's chat template)\n"
	"  -o, --output file        output .tok (default \"-\" = stdout)\n"
	"      --format f           chat: records are conversations (default);\n"
	"                           text: {\"text\": ...} or a JSON string per line,\n"
	"                           no template, eos appended, all tokens trained\n"
	"      --prompt-key key     prompt column (with --response-key), e.g. content;\n"
	"                           with --format text: the text key (default text)\n"
	"      --response-key key   response column, e.g. summary\n"
	"      --history-key key    earlier turns as [[query, answer], ...]\n"
	"      --split-on w         a .txt input's documents: line (default), one per\n"
	"                           line; blank, paragraphs up to a blank line\n"
	"      --system text        system prompt for records without one\n"
	"                           (default: the template's; '' for none)\n"
	"      --train-on w         assistant: assistant turns only (default); all\n"
	"      --max-source-len n   cut the prompt part to n tokens (ChatGLM)\n"
	"      --max-target-len n   cut the last answer part to n tokens (ChatGLM)\n"
	"      --max-len n          cut every record to n tokens\n"
	"      --skip-bad           count and skip bad records instead of failing\n"
	"      --threads n          encoding threads (default: all cores)\n"
	"  -q, --quiet              no summary;  --progress: progress on stderr\n"
	"  -h, --help               this help;   -V, --version: the version\n\n"
	"Example:\n"
	"  tok-chatml -t models/SmolLM2-135M-Instruct --prompt-key content \\\n"
	"      --response-key summary -o train.tok train.jsonl\n";

enum {
	OPT_CHAT_CONFIG = 256, OPT_TEMPLATE, OPT_FORMAT, OPT_PROMPT_KEY, OPT_RESPONSE_KEY, OPT_HISTORY_KEY,
	OPT_SYSTEM, OPT_TRAIN_ON, OPT_MAX_SOURCE, OPT_MAX_TARGET, OPT_MAX_LEN, OPT_SKIP_BAD,
	OPT_THREADS, OPT_PROGRESS, OPT_VERSION, OPT_SPLIT_ON,
};

static const struct option longopts[] = {
	{ "tokenizer",      required_argument, NULL, 't'              },
	{ "chat-config",    required_argument, NULL, OPT_CHAT_CONFIG  },
	{ "template",       required_argument, NULL, OPT_TEMPLATE     },
	{ "output",         required_argument, NULL, 'o'              },
	{ "format",         required_argument, NULL, OPT_FORMAT       },
	{ "prompt-key",     required_argument, NULL, OPT_PROMPT_KEY   },
	{ "response-key",   required_argument, NULL, OPT_RESPONSE_KEY },
	{ "history-key",    required_argument, NULL, OPT_HISTORY_KEY  },
	{ "system",         required_argument, NULL, OPT_SYSTEM       },
	{ "train-on",       required_argument, NULL, OPT_TRAIN_ON     },
	{ "max-source-len", required_argument, NULL, OPT_MAX_SOURCE   },
	{ "max-target-len", required_argument, NULL, OPT_MAX_TARGET   },
	{ "max-len",        required_argument, NULL, OPT_MAX_LEN      },
	{ "skip-bad",       no_argument,       NULL, OPT_SKIP_BAD     },
	{ "split-on",       required_argument, NULL, OPT_SPLIT_ON     },
	{ "threads",        required_argument, NULL, OPT_THREADS      },
	{ "quiet",          no_argument,       NULL, 'q'              },
	{ "progress",       no_argument,       NULL, OPT_PROGRESS     },
	{ "help",           no_argument,       NULL, 'h'              },
	{ "version",        no_argument,       NULL, OPT_VERSION      },
	{ NULL, 0, NULL, 0 },
};

static void warn(const char *msg) { qt_warnx("%s", msg); }

static const char *const formats[] = { "chat", "text", NULL };
static const char *const train_on[] = { "assistant", "all", NULL };
static const char *const split_on[] = { "line", "blank", NULL };

int main(int argc, char **argv)
{
	qt_set_progname(argv[0]);
	qt_usage_init(synopsis, help);
	struct chat_run_opts o = { .output = "-", .warn = warn };
	int chat_only = 0, c;
	while ((c = getopt_long(argc, argv, "t:o:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 't':              o.tokenizer = optarg; break;
		case OPT_CHAT_CONFIG:  o.config = optarg; break;
		case OPT_TEMPLATE:     o.template_ = optarg; chat_only = 1; break;
		case 'o':              o.output = optarg; break;
		case OPT_FORMAT:       o.rec.format = qt_arg_word("--format", optarg, formats); break;
		case OPT_PROMPT_KEY:   o.rec.prompt_key = optarg; break;
		case OPT_RESPONSE_KEY: o.rec.response_key = optarg; chat_only = 1; break;
		case OPT_HISTORY_KEY:  o.rec.history_key = optarg; chat_only = 1; break;
		case OPT_SYSTEM:
			o.system.mode = *optarg ? CHAT_SYSTEM_SET : CHAT_SYSTEM_NONE;
			o.system.text = optarg;
			chat_only = 1;
			break;
		case OPT_TRAIN_ON:
			o.train = qt_arg_word("--train-on", optarg, train_on) ? CHAT_TRAIN_ALL
			                                                       : CHAT_TRAIN_ASSISTANT;
			chat_only = 1;
			break;
		case OPT_MAX_SOURCE:
			o.limits.max_source = (uint32_t)qt_arg_i64("--max-source-len", optarg, 1, 1 << 24);
			chat_only = 1;
			break;
		case OPT_MAX_TARGET:
			o.limits.max_target = (uint32_t)qt_arg_i64("--max-target-len", optarg, 1, 1 << 24);
			chat_only = 1;
			break;
		case OPT_MAX_LEN:
			o.limits.max_len = (uint32_t)qt_arg_i64("--max-len", optarg, 1, 1 << 24);
			break;
		case OPT_SKIP_BAD:     o.skip_bad = 1; break;
		case OPT_SPLIT_ON:     o.paragraphs = qt_arg_word("--split-on", optarg, split_on); break;
		case OPT_THREADS:      o.threads = (int)qt_arg_i64("--threads", optarg, 1, 1024); break;
		case 'q':              qt_verbosity = 1; break;
		case OPT_PROGRESS:     qt_verbosity = 3; break;
		case 'h':              qt_usage(0);
		case 'V':
		case OPT_VERSION:      qt_version();
		default:               qt_usage(QT_EUSAGE);
		}
	}
	if (!o.tokenizer)
		qt_usage_error("-t tokenizer.json is required");
	if (o.rec.format == CHAT_FORMAT_TEXT && chat_only)
		qt_usage_error("--response-key, --history-key, --system, --train-on and "
		               "--max-source-len/--max-target-len apply to --format chat only");
	if (o.rec.format == CHAT_FORMAT_CHAT && !o.rec.prompt_key != !o.rec.response_key)
		qt_usage_error("--prompt-key and --response-key go together");
	if (o.rec.history_key && !o.rec.response_key)
		qt_usage_error("--history-key needs --prompt-key and --response-key");
	static const char *const stdin_only[] = { "-" };
	o.inputs = optind < argc ? (const char *const *)argv + optind : stdin_only;
	o.n_inputs = optind < argc ? (size_t)(argc - optind) : 1;
	qt_progress_auto();
	qt_out_cleanup_on_signal();

	struct chat_run_stats s;
	struct qt_err err;
	if (chat_run(&o, &s, &err) != QT_OK)
		qt_die_err(&err);
	qt_info(2, "%llu records: %llu written (%llu tokens, %llu trained), %llu truncated, "
	        "%llu dropped, %llu bad skipped", (unsigned long long)s.n_read,
	        (unsigned long long)s.n_written, (unsigned long long)s.n_tokens,
	        (unsigned long long)s.n_trained, (unsigned long long)s.n_truncated,
	        (unsigned long long)s.n_dropped, (unsigned long long)s.n_bad);
	return 0;
}

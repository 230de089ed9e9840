/* qlora-tools: ISC license. */
/* gen: generate predictions for prompts with a Llama-family model (+ LoRA adapter). See gen(1). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/args.h"
#include "common/err.h"
#include "common/progress.h"
#include "jobs/gen.h"

static const char synopsis[] =
	"usage: gen -m model_dir [--adapter dir] [-o file] [--prompt-key key] [--label-key key]\n"
	"           [--system text] [--max-new-tokens n] [--batch n] [--greedy | --sample]\n"
	"           [--temperature t] [--top-k k] [--top-p p] [--min-p p]\n"
	"           [--repetition-penalty r] [--preset chatglm] [--seed n] [--stop id]\n"
	"           [--stream] [--ids] [--threads n] [--device cpu|cuda|auto]\n"
	"           [--progress | -q] [file ...]\n";

static void usage(FILE *fp, int status)
{
	fputs(synopsis, fp);
	if (fp == stdout)
		fputs("\nGenerates one prediction per prompt record (JSONL; '-' or none = stdin) and\n"
		      "writes {\"prompt\",\"predict\",\"labels\",\"prompt_tokens\",\"new_tokens\"} lines.\n"
		      "Decoding is greedy unless --sample or a sampling option is given.\n"
		      "See gen(1).\n", fp);
	exit(status);
}

static void bad(const char *what, const char *arg)
{
	fprintf(stderr, "%s: bad %s: '%s'\n%s", qt_progname, what, arg, synopsis);
	exit(QT_EUSAGE);
}

enum { O_ADAPTER = 256, O_PROMPT_KEY, O_LABEL_KEY, O_SYSTEM, O_MAX_NEW, O_BATCH, O_GREEDY,
       O_SAMPLE, O_TEMP, O_TOPK, O_TOPP, O_MINP, O_REP, O_PRESET, O_SEED, O_STOP, O_STREAM, O_IDS,
       O_THREADS, O_PROGRESS, O_QUIET, O_HELP, O_VERSION, O_DEVICE };

static const struct option longopts[] = {
	{ "model",              required_argument, NULL, 'm'        },
	{ "output",             required_argument, NULL, 'o'        },
	{ "adapter",            required_argument, NULL, O_ADAPTER  },
	{ "prompt-key",         required_argument, NULL, O_PROMPT_KEY },
	{ "label-key",          required_argument, NULL, O_LABEL_KEY },
	{ "system",             required_argument, NULL, O_SYSTEM   },
	{ "max-new-tokens",     required_argument, NULL, O_MAX_NEW  },
	{ "batch",              required_argument, NULL, O_BATCH    },
	{ "greedy",             no_argument,       NULL, O_GREEDY   },
	{ "sample",             no_argument,       NULL, O_SAMPLE   },
	{ "temperature",        required_argument, NULL, O_TEMP     },
	{ "top-k",              required_argument, NULL, O_TOPK     },
	{ "top-p",              required_argument, NULL, O_TOPP     },
	{ "min-p",              required_argument, NULL, O_MINP     },
	{ "repetition-penalty", required_argument, NULL, O_REP      },
	{ "preset",             required_argument, NULL, O_PRESET   },
	{ "seed",               required_argument, NULL, O_SEED     },
	{ "stop",               required_argument, NULL, O_STOP     },
	{ "stream",             no_argument,       NULL, O_STREAM   },
	{ "ids",                no_argument,       NULL, O_IDS      },
	{ "threads",            required_argument, NULL, O_THREADS  },
	{ "device",             required_argument, NULL, O_DEVICE   },
	{ "progress",           no_argument,       NULL, O_PROGRESS },
	{ "quiet",              no_argument,       NULL, 'q'        },
	{ "help",               no_argument,       NULL, O_HELP     },
	{ "version",            no_argument,       NULL, O_VERSION  },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	qt_set_progname(argv[0]);
	qt_progress_auto();
	/* transformers' GenerationConfig defaults (reference.md 8.1); greedy unless asked. */
	struct gen_opts o = {
		.output = "-", .max_new_tokens = 256, .batch = 8, .seed = 42,
		.system = { .mode = CHAT_SYSTEM_DEFAULT },
		.sample = { .do_sample = 0, .temperature = 1.0f, .top_k = 50, .top_p = 1.0f,
		            .min_p = 0.0f, .repetition_penalty = 1.0f },
	};
	int sample_set = 0, greedy = 0, c;
	int64_t v;
	double d;
	uint64_t u;
	while ((c = getopt_long(argc, argv, "m:o:q", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': o.model_dir = optarg; break;
		case 'o': o.output = optarg; break;
		case O_ADAPTER: o.adapter_dir = optarg; break;
		case O_PROMPT_KEY: o.prompt_key = optarg; break;
		case O_LABEL_KEY: o.label_key = optarg; break;
		case O_SYSTEM:
			o.system.mode = *optarg ? CHAT_SYSTEM_SET : CHAT_SYSTEM_NONE;
			o.system.text = optarg;
			break;
		case O_MAX_NEW:
			if (qt_parse_i64(optarg, 1, 1 << 20, &v)) bad("--max-new-tokens", optarg);
			o.max_new_tokens = (int)v;
			break;
		case O_BATCH:
			if (qt_parse_i64(optarg, 1, 4096, &v)) bad("--batch", optarg);
			o.batch = (int)v;
			break;
		case O_GREEDY: greedy = 1; break;
		case O_SAMPLE: sample_set = 1; break;
		case O_TEMP:
			if (qt_parse_double(optarg, 1e-6, 1e6, &d)) bad("--temperature", optarg);
			o.sample.temperature = (float)d; sample_set = 1;
			break;
		case O_TOPK:
			if (qt_parse_i64(optarg, 0, 1 << 30, &v)) bad("--top-k", optarg);
			o.sample.top_k = (int)v; sample_set = 1;
			break;
		case O_TOPP:
			if (qt_parse_double(optarg, 0, 1, &d)) bad("--top-p", optarg);
			o.sample.top_p = (float)d; sample_set = 1;
			break;
		case O_MINP:
			if (qt_parse_double(optarg, 0, 1, &d)) bad("--min-p", optarg);
			o.sample.min_p = (float)d; sample_set = 1;
			break;
		case O_REP:
			if (qt_parse_double(optarg, 1e-6, 1e6, &d)) bad("--repetition-penalty", optarg);
			o.sample.repetition_penalty = (float)d;
			break;
		case O_PRESET:
			/* ChatGLM's evaluation (reference.md 8.4): T 0.95, top-k 50, top-p 0.7. */
			if (strcmp(optarg, "chatglm")) bad("--preset", optarg);
			o.sample.temperature = 0.95f; o.sample.top_k = 50; o.sample.top_p = 0.7f;
			sample_set = 1;
			break;
		case O_SEED:
			if (qt_parse_u64(optarg, &u)) bad("--seed", optarg);
			o.seed = u;
			break;
		case O_STOP:
			if (qt_parse_i64(optarg, 0, UINT32_MAX, &v) || o.n_stop == 16) bad("--stop", optarg);
			o.stop[o.n_stop++] = (uint32_t)v;
			break;
		case O_STREAM: o.stream = 1; break;
		case O_IDS: o.ids = 1; break;
		case O_THREADS:
			if (qt_parse_i64(optarg, 1, 1024, &v)) bad("--threads", optarg);
			o.threads = (int)v;
			break;
		case O_DEVICE:
			if (strcmp(optarg, "cpu") && strcmp(optarg, "cuda") && strcmp(optarg, "auto"))
				bad("--device", optarg);
			o.device = optarg;
			break;
		case O_PROGRESS: qt_verbosity = 3; break;
		case 'q':
		case O_QUIET: qt_verbosity = 1; break;
		case O_HELP: usage(stdout, 0); break;
		case O_VERSION: puts("gen (qlora-tools) " QT_VERSION); return 0;
		default: usage(stderr, QT_EUSAGE);
		}
	}
	if (!o.model_dir) {
		fprintf(stderr, "%s: -m model_dir is required\n", qt_progname);
		usage(stderr, QT_EUSAGE);
	}
	if (greedy && sample_set) {
		fprintf(stderr, "%s: --greedy conflicts with sampling options\n", qt_progname);
		usage(stderr, QT_EUSAGE);
	}
	o.sample.do_sample = sample_set;
	static const char *const stdin_only[] = { "-" };
	o.inputs = optind < argc ? (const char *const *)argv + optind : stdin_only;
	o.n_inputs = optind < argc ? argc - optind : 1;
	struct gen_stats st;
	struct qt_err err = { 0 };
	if (gen_run(&o, &st, &err) != QT_OK)
		qt_die_err(&err);
	qt_info(2, "%llu prompts, %llu prompt tokens, %llu new tokens in %.1f s (%.1f tokens/s)",
	        (unsigned long long)st.n_prompts, (unsigned long long)st.n_prompt_tokens,
	        (unsigned long long)st.n_new_tokens, st.seconds,
	        st.seconds > 0 ? st.n_new_tokens / st.seconds : 0.0);
	return 0;
}

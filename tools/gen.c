/* qlora-tools: ISC license. */
/* gen: generate predictions for prompts with a Llama-family model (+ LoRA adapter). See gen(1). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/args.h"
#include "common/err.h"
#include "common/progress.h"
#include "common/usage.h"
#include "jobs/gen.h"

static const char synopsis[] =
	"usage: gen -m model_dir [--adapter dir] [-o file] [--prompt-key key] [--label-key key]\n"
	"           [--system text] [--template chatml|file] [--max-new-tokens n] [--batch n]\n"
	"           [--greedy | --sample] [--temperature t] [--top-k k] [--top-p p] [--min-p p]\n"
	"           [--repetition-penalty r] [--preset chatglm] [--seed n] [--stop id]\n"
	"           [--stream] [--ids] [--threads n] [--device cpu|cuda|auto]\n"
	"           [--int8-activations] [--progress | -q] [-v] [file ...]\n";

static const char help[] =
	"Generate one prediction per prompt record (JSON Lines, a JSON array or a .txt\n"
	"file of prompts; '-' or none = stdin) and write {\"prompt\", \"predict\",\n"
	"\"labels\", \"prompt_tokens\", \"new_tokens\"} lines. Greedy unless --sample or a\n"
	"sampling option is given.\n\n"
	"  -m, --model dir          HF model directory (float or NF4; a .gguf file:\n"
	"                           convert it with import-gguf first)\n"
	"      --adapter dir        a PEFT LoRA adapter to apply\n"
	"  -o, --output file        predictions (default \"-\" = stdout)\n"
	"      --prompt-key key     records are objects whose key is the prompt\n"
	"                           (default: chat records, see chat(5))\n"
	"      --label-key key      with --prompt-key: copied to \"labels\"\n"
	"      --system text        system prompt (default: the template's; '' none)\n"
	"      --max-new-tokens n   new tokens per prompt (default 256)\n"
	"      --batch n            prompts decoded together (default 8)\n"
	"      --greedy, --sample   greedy (default) or sampling decoding\n"
	"      --temperature t      sampling temperature (default 1.0; 0 = greedy)\n"
	"      --top-k k            keep the k likeliest tokens (default 50; 0 = all)\n"
	"      --top-p p            nucleus sampling mass (default 1.0)\n"
	"      --min-p p            drop tokens below p x the top one (default 0)\n"
	"      --repetition-penalty r  (default 1.0 = none)\n"
	"      --preset chatglm     ChatGLM's evaluation: T 0.95, top-k 50, top-p 0.7\n"
	"      --seed n             sampling seed (default 42)\n"
	"      --stop id            another stop token id (up to 16; eos always stops)\n"
	"      --stream             print tokens as they come (one prompt)\n"
	"      --ids                also write \"predict_ids\"\n"
	"      --threads n          CPU threads (default: all cores)\n"
	"      --device d           cpu, cuda or auto (default auto: cuda if present)\n"
	"      --int8-activations   NF4 decoding with int8 activations, as llama.cpp's\n"
	"                           q8_0: faster, changes the results (CPU only)\n"
	"  -q, --quiet              no summary;  --progress: progress on stderr\n"
	"  -v, --verbose            also notes, such as the device chosen\n"
	"  -h, --help               this help;   -V, --version: the version\n\n"
	"Example:\n"
	"  gen -m models/SmolLM2-135M-Instruct --adapter run/adapter --prompt-key content \\\n"
	"      --label-key summary -o predictions.jsonl eval.jsonl\n";

static const char *const devices[] = { "cpu", "cuda", "auto", NULL };

enum { O_ADAPTER = 256, O_PROMPT_KEY, O_LABEL_KEY, O_SYSTEM, O_TEMPLATE, O_MAX_NEW, O_BATCH, O_GREEDY,
       O_SAMPLE, O_TEMP, O_TOPK, O_TOPP, O_MINP, O_REP, O_PRESET, O_SEED, O_STOP, O_STREAM, O_IDS,
       O_THREADS, O_PROGRESS, O_QUIET, O_HELP = 'h', O_VERSION = 'V', O_DEVICE = 512,
       O_INT8_ACT, O_VERBOSE = 'v' };

static const struct option longopts[] = {
	{ "model",              required_argument, NULL, 'm'        },
	{ "output",             required_argument, NULL, 'o'        },
	{ "adapter",            required_argument, NULL, O_ADAPTER  },
	{ "prompt-key",         required_argument, NULL, O_PROMPT_KEY },
	{ "label-key",          required_argument, NULL, O_LABEL_KEY },
	{ "system",             required_argument, NULL, O_SYSTEM   },
	{ "template",           required_argument, NULL, O_TEMPLATE },
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
	{ "int8-activations",   no_argument,       NULL, O_INT8_ACT },
	{ "progress",           no_argument,       NULL, O_PROGRESS },
	{ "quiet",              no_argument,       NULL, 'q'        },
	{ "verbose",            no_argument,       NULL, O_VERBOSE  },
	{ "help",               no_argument,       NULL, O_HELP     },
	{ "version",            no_argument,       NULL, O_VERSION  },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	qt_set_progname(argv[0]);
	qt_progress_auto();
	qt_usage_init(synopsis, help);
	/* transformers' GenerationConfig defaults (reference.md 8.1); greedy unless asked. */
	struct gen_opts o = {
		.output = "-", .max_new_tokens = 256, .batch = 8, .seed = 42,
		.system = { .mode = CHAT_SYSTEM_DEFAULT },
		.sample = { .do_sample = 0, .temperature = 1.0f, .top_k = 50, .top_p = 1.0f,
		            .min_p = 0.0f, .repetition_penalty = 1.0f },
	};
	int sample_set = 0, greedy = 0, temp_zero = 0, c;
	while ((c = getopt_long(argc, argv, "m:o:qvhV", longopts, NULL)) != -1) {
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
		case O_TEMPLATE: o.template_ = optarg; break;
		case O_MAX_NEW:
			o.max_new_tokens = (int)qt_arg_i64("--max-new-tokens", optarg, 1, 1 << 20);
			break;
		case O_BATCH: o.batch = (int)qt_arg_i64("--batch", optarg, 1, 4096); break;
		case O_GREEDY: greedy = 1; break;
		case O_SAMPLE: sample_set = 1; break;
		case O_TEMP:
			/* 0 means greedy, as in llama.cpp and the chat APIs */
			o.sample.temperature = (float)qt_arg_double("--temperature", optarg, 0, 1e6);
			temp_zero = o.sample.temperature == 0;
			if (temp_zero)
				o.sample.temperature = 1.0f;
			else
				sample_set = 1;
			break;
		case O_TOPK:
			o.sample.top_k = (int)qt_arg_i64("--top-k", optarg, 0, 1 << 30);
			sample_set = 1;
			break;
		case O_TOPP:
			o.sample.top_p = (float)qt_arg_double("--top-p", optarg, 0, 1);
			sample_set = 1;
			break;
		case O_MINP:
			o.sample.min_p = (float)qt_arg_double("--min-p", optarg, 0, 1);
			sample_set = 1;
			break;
		case O_REP:
			o.sample.repetition_penalty =
				(float)qt_arg_double("--repetition-penalty", optarg, 1e-6, 1e6);
			break;
		case O_PRESET:
			/* ChatGLM's evaluation (reference.md 8.4): T 0.95, top-k 50, top-p 0.7. */
			qt_arg_word("--preset", optarg, (const char *const[]){ "chatglm", NULL });
			o.sample.temperature = 0.95f; o.sample.top_k = 50; o.sample.top_p = 0.7f;
			sample_set = 1;
			break;
		case O_SEED: o.seed = qt_arg_u64("--seed", optarg); break;
		case O_STOP:
			if (o.n_stop == 16)
				qt_usage_error("--stop: at most 16 stop ids");
			o.stop[o.n_stop++] = (uint32_t)qt_arg_i64("--stop", optarg, 0, UINT32_MAX);
			break;
		case O_STREAM: o.stream = 1; break;
		case O_IDS: o.ids = 1; break;
		case O_THREADS: o.threads = (int)qt_arg_i64("--threads", optarg, 1, 1024); break;
		case O_DEVICE: o.device = devices[qt_arg_word("--device", optarg, devices)]; break;
		case O_INT8_ACT: o.int8_act = 1; break;
		case O_PROGRESS: qt_verbosity = 3; break;
		case 'q':
		case O_QUIET: qt_verbosity = 1; break;
		case O_VERBOSE: qt_verbosity = 4; break;
		case O_HELP: qt_usage(0);
		case O_VERSION: qt_version();
		default: qt_usage(QT_EUSAGE);
		}
	}
	if (!o.model_dir)
		qt_usage_error("-m model_dir is required");
	if (o.int8_act && o.device && strcmp(o.device, "cuda") == 0)
		qt_usage_error("--int8-activations is CPU only");
	if (greedy && sample_set && !temp_zero)
		qt_usage_error("--greedy conflicts with sampling options");
	o.sample.do_sample = sample_set && !temp_zero;
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

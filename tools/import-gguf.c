/* qlora-tools: ISC license. */
/*
 * import-gguf: a llama-architecture GGUF file to a HuggingFace model directory (see
 * import-gguf(1)). Parses options and calls gguf_import_dir (jobs/import_gguf.h).
 */
#include <getopt.h>
#include <stdio.h>

#include "common/dtype.h"
#include "common/err.h"
#include "common/io.h"
#include "common/progress.h"
#include "common/usage.h"
#include "jobs/import_gguf.h"

static const char synopsis[] =
	"usage: import-gguf [-q] [--progress] [--tokenizer-only] [--dtype bf16|f16|f32] -o dir\n"
	"                   model.gguf\n";

static const char help[] =
	"Convert a llama-architecture GGUF file into a HuggingFace model directory:\n"
	"config.json, generation_config.json, model.safetensors, tokenizer.json and\n"
	"tokenizer_config.json. Quantized tensors are dequantized, the Q/K rows are put\n"
	"back in HF order. The directory is created atomically (an existing one is\n"
	"replaced).\n\n"
	"  -o, --output dir     directory to create\n"
	"      --dtype t        tensor type in model.safetensors: bf16 (default), f16, f32\n"
	"                       (or bfloat16, float16, fp16, float32, fp32)\n"
	"      --tokenizer-only write tokenizer.json and tokenizer_config.json only (for a\n"
	"                       vocabulary-only GGUF, which has no weights)\n"
	"  -q, --quiet          no summary;  --progress: progress on stderr\n"
	"  -h, --help           this help;   -V, --version: the version\n\n"
	"Example:\n"
	"  import-gguf -o models/SmolLM2 SmolLM2-135M-Instruct.Q4_1.gguf\n";

enum { OPT_DTYPE = 256, OPT_PROGRESS, OPT_VERSION, OPT_TOKENIZER_ONLY };

static const struct option longopts[] = {
	{ "output",   required_argument, NULL, 'o'          },
	{ "dtype",    required_argument, NULL, OPT_DTYPE    },
	{ "tokenizer-only", no_argument, NULL, OPT_TOKENIZER_ONLY },
	{ "quiet",    no_argument,       NULL, 'q'          },
	{ "progress", no_argument,       NULL, OPT_PROGRESS },
	{ "help",     no_argument,       NULL, 'h'          },
	{ "version",  no_argument,       NULL, OPT_VERSION  },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	struct gguf_import_opts o = { .dtype = QT_DTYPE_BF16 };
	struct gguf_import_stats stats;
	struct qt_err err;
	int c;

	qt_set_progname(argv[0]);
	qt_usage_init(synopsis, help);
	qt_progress_auto();
	while ((c = getopt_long(argc, argv, "o:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':          o.outdir = optarg; break;
		case OPT_DTYPE:
			o.dtype = qt_dtype_option_types[qt_arg_word("--dtype", optarg,
			                                            qt_dtype_option_names)];
			break;
		case OPT_TOKENIZER_ONLY: o.tokenizer_only = 1; break;
		case 'q':          qt_verbosity = 1; break;
		case OPT_PROGRESS: qt_verbosity = 3; break;
		case 'h':          qt_usage(0);
		case 'V':
		case OPT_VERSION:  qt_version();
		default:           qt_usage(QT_EUSAGE);
		}
	}
	if (optind + 1 != argc)
		qt_usage_error("%s", optind == argc ? "missing input model.gguf"
		                                    : "one input file expected");
	if (!o.outdir)
		qt_usage_error("missing -o dir");
	o.input = argv[optind];
	o.progress = qt_verbosity >= 3;
	qt_out_cleanup_on_signal();
	double t0 = qt_now();
	if (gguf_import_dir(&o, &stats, &err) != QT_OK)
		qt_die_err(&err);
	if (o.tokenizer_only) {
		qt_info(2, "%s: tokenizer.json, tokenizer_config.json", o.outdir);
		return 0;
	}
	qt_info(2, "%s: %llu tensors, %llu parameters%s, %.1f MB written in %.2f s", o.outdir,
	        (unsigned long long)stats.n_tensors, (unsigned long long)stats.n_params,
	        stats.tied ? " (tied embeddings)" : "", stats.bytes_written / 1e6, qt_now() - t0);
	return 0;
}

/* qlora-tools: ISC license. */
/*
 * export-gguf: an HF model directory (or a PEFT LoRA adapter) to llama.cpp's GGUF, see
 * export-gguf(1). Parses options and calls export_gguf_run (jobs/export_gguf.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/io.h"
#include "common/progress.h"
#include "common/usage.h"
#include "jobs/export_gguf.h"

static const char synopsis[] =
	"usage: export-gguf [-q] [--progress] [--threads n] [--type type] -o file.gguf model_dir\n"
	"       export-gguf [-q] [--progress] [--type type] --adapter adapter_dir -m base_dir "
	"-o file.gguf\n";

static const char help[] =
	"Write a HuggingFace Llama-family model directory (safetensors f32/f16/bf16, sharded or\n"
	"not, or an NF4 directory) as a llama.cpp GGUF file, or a PEFT LoRA adapter as a\n"
	"llama.cpp LoRA GGUF. Quantized types are byte-identical to llama-quantize's output.\n\n"
	"  -o, --output FILE    the .gguf file to write (atomically)\n"
	"      --type TYPE      f32, f16 (default), bf16, q8_0, q4_0, q4_k_m, q5_k_m, q6_k;\n"
	"                       an adapter: f32 (default), f16, bf16\n"
	"      --adapter DIR    write the PEFT adapter in DIR instead of a model\n"
	"  -m, --model DIR      the adapter's base model (HF or NF4 directory)\n"
	"      --threads N      quantization threads (default: all CPUs)\n"
	"  -q, --quiet          no summary;  --progress: progress on stderr\n"
	"  -h, --help           this help;   -V, --version: the version\n";

enum { OPT_TYPE = 256, OPT_ADAPTER, OPT_PROGRESS, OPT_THREADS, OPT_VERSION };

static const struct option longopts[] = {
	{ "output",   required_argument, NULL, 'o'          },
	{ "type",     required_argument, NULL, OPT_TYPE     },
	{ "adapter",  required_argument, NULL, OPT_ADAPTER  },
	{ "model",    required_argument, NULL, 'm'          },
	{ "threads",  required_argument, NULL, OPT_THREADS  },
	{ "quiet",    no_argument,       NULL, 'q'          },
	{ "progress", no_argument,       NULL, OPT_PROGRESS },
	{ "help",     no_argument,       NULL, 'h'          },
	{ "version",  no_argument,       NULL, OPT_VERSION  },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	struct export_gguf_opts o = { .type = -1 };
	struct export_gguf_stats s;
	struct qt_err err;
	const char *type = NULL;
	int c;

	qt_set_progname(argv[0]);
	qt_usage_init(synopsis, help);
	qt_progress_auto();
	while ((c = getopt_long(argc, argv, "o:m:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':          o.output = optarg; break;
		case 'm':          o.model_dir = optarg; break;
		case OPT_TYPE:     type = optarg; break;
		case OPT_ADAPTER:  o.adapter_dir = optarg; break;
		case OPT_THREADS:  o.n_threads = (int)qt_arg_i64("--threads", optarg, 1, 4096); break;
		case 'q':          qt_verbosity = 1; break;
		case OPT_PROGRESS: qt_verbosity = 3; break;
		case 'h':          qt_usage(0);
		case 'V':
		case OPT_VERSION:  qt_version();
		default:           qt_usage(QT_EUSAGE);
		}
	}
	if (o.adapter_dir) {
		if (optind < argc)
			qt_usage_error("unexpected operand %s (the base is given with -m)", argv[optind]);
		if (!o.model_dir)
			qt_usage_error("--adapter needs its base model: -m base_dir");
	} else {
		if (o.model_dir)
			qt_usage_error("-m names an adapter's base; give the model as the operand");
		if (optind + 1 != argc)
			qt_usage_error("%s", optind == argc ? "missing model_dir" : "one model_dir expected");
		o.model_dir = argv[optind];
	}
	if (!o.output)
		qt_usage_error("missing -o file.gguf");
	o.type = o.adapter_dir ? 0 : 1; /* f32 for adapters (convert_lora_to_gguf.py), else f16 */
	if (type) {
		o.type = export_gguf_type_find(type, &err);
		if (o.type == -2)
			qt_usage_error("%s", err.msg);
		if (o.type < 0)
			qt_die_err(&err);
	}
	o.progress = qt_verbosity >= 3;
	qt_out_cleanup_on_signal();
	double t0 = qt_now();
	if (export_gguf_run(&o, &s, &err) != QT_OK)
		qt_die_err(&err);
	char mix[256] = "";
	for (uint32_t t = 0, n = 0; t < 64; t++)
		if (s.n_of_type[t] && ggml_type_get(t))
			n += (uint32_t)snprintf(mix + n, n < sizeof mix ? sizeof mix - n : 0, "%s%llu %s",
			                        n ? ", " : "", (unsigned long long)s.n_of_type[t],
			                        ggml_type_get(t)->name);
	qt_info(2, "%s: %s%s, %llu tensors (%s), %llu parameters, %.1f MB in %.2f s", o.output,
	        o.adapter_dir ? "LoRA adapter " : "", export_gguf_type_names[o.type],
	        (unsigned long long)s.n_tensors, mix, (unsigned long long)s.n_params,
	        (double)s.bytes / 1e6, qt_now() - t0);
	if (s.nf4)
		qt_info(2, "%s: the NF4 weights were dequantized as bitsandbytes does", o.model_dir);
	return 0;
}

/* qlora-tools: ISC license. */
/*
 * lora-merge: fold PEFT LoRA adapters into a base model (HF or NF4 directory) and write a
 * complete HF model directory; --unmerge subtracts them; --info describes one adapter.
 * All the work is in jobs/lora_merge.c.
 */
#include <getopt.h>
#include <stdio.h>

#include "common/dtype.h"
#include "common/err.h"
#include "common/io.h"
#include "common/progress.h"
#include "common/usage.h"
#include "jobs/lora_merge.h"

static const char synopsis[] =
	"usage: lora-merge [--progress] [--quiet] [--unmerge] [--dtype type] "
	"[--threads n] -m base_dir -a adapter_dir [--scale s] [-a adapter_dir "
	"[--scale s] ...] -o out_dir\n       lora-merge --info adapter_dir\n";

static const char help[] =
	"Merge PEFT LoRA adapters into a base model: W' = W + scale * (alpha/r) * B A,\n"
	"computed in float32 and written as a complete HF model directory.\n\n"
	"  -m, --model DIR      base model: HF directory (safetensors) or NF4 directory\n"
	"  -a, --adapter DIR    PEFT adapter directory; repeat to merge several, in order\n"
	"  -s, --scale S        factor for the preceding -a (default 1)\n"
	"  -o, --output DIR     merged model directory (replaced atomically)\n"
	"      --dtype TYPE     bf16, f16 or f32 (default: the base's stored dtype)\n"
	"      --unmerge        subtract the adapters from a merged model instead\n"
	"      --info DIR       print rank, alpha, targets, parameters and per-layer\n"
	"                       norms of B A for one adapter, and exit\n"
	"      --threads N      worker threads (default: all CPUs)\n"
	"      --progress       show progress on stderr even when it is not a terminal\n"
	"  -q, --quiet          no summary on stderr\n"
	"  -h, --help           this help\n"
	"  -V, --version        version\n\n"
	"Example:\n"
	"  lora-merge -m models/SmolLM2-135M-Instruct -a run/adapter -o merged\n";

enum { OPT_DTYPE = 256, OPT_UNMERGE, OPT_INFO, OPT_PROGRESS, OPT_THREADS };


static const struct option long_opts[] = {
	{ "model",    required_argument, NULL, 'm'          },
	{ "adapter",  required_argument, NULL, 'a'          },
	{ "scale",    required_argument, NULL, 's'          },
	{ "output",   required_argument, NULL, 'o'          },
	{ "dtype",    required_argument, NULL, OPT_DTYPE    },
	{ "unmerge",  no_argument,       NULL, OPT_UNMERGE  },
	{ "info",     required_argument, NULL, OPT_INFO     },
	{ "threads",  required_argument, NULL, OPT_THREADS  },
	{ "progress", no_argument,       NULL, OPT_PROGRESS },
	{ "quiet",    no_argument,       NULL, 'q'          },
	{ "help",     no_argument,       NULL, 'h'          },
	{ "version",  no_argument,       NULL, 'V'          },
	{ NULL, 0, NULL, 0 }
};

int main(int argc, char **argv)
{
	qt_set_progname(argv[0]);
	qt_usage_init(synopsis, help);
	struct merge_opts o = { .out_dtype = -1 };
	const char *info = NULL;
	int progress = 0, quiet = 0, c;
	for (int i = 0; i < MERGE_MAX_ADAPTERS; i++)
		o.scale[i] = 1.0;
	while ((c = getopt_long(argc, argv, "m:a:s:o:qhV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'm': o.base_dir = optarg; break;
		case 'o': o.out_dir = optarg; break;
		case 'a':
			if (o.n_adapters == MERGE_MAX_ADAPTERS)
				qt_usage_error("at most 16 adapters (-a %s)", optarg);
			o.adapter_dir[o.n_adapters++] = optarg;
			break;
		case 's':
			if (o.n_adapters == 0)
				qt_usage_error("--scale %s: give it after the -a it applies to", optarg);
			o.scale[o.n_adapters - 1] = qt_arg_double("--scale", optarg, -1e6, 1e6);
			break;
		case OPT_DTYPE:
			o.out_dtype = (int)qt_dtype_option_types[qt_arg_word("--dtype", optarg, qt_dtype_option_names)];
			break;
		case OPT_UNMERGE: o.unmerge = 1; break;
		case OPT_INFO: info = optarg; break;
		case OPT_THREADS: o.n_threads = (int)qt_arg_i64("--threads", optarg, 1, 4096); break;
		case OPT_PROGRESS: progress = 1; break;
		case 'q': quiet = 1; break;
		case 'h': qt_usage(0);
		case 'V': qt_version();
		default: qt_usage(QT_EUSAGE);
		}
	}
	if (optind < argc)
		qt_usage_error("unexpected operand %s", argv[optind]);
	struct qt_err err;
	if (info) {
		if (o.base_dir || o.out_dir || o.n_adapters)
			qt_usage_error("--info takes no other input or output");
		if (merge_info(info, stdout, &err) != QT_OK)
			qt_die_err(&err);
		if (qt_stdout_close(&err) != QT_OK)
			qt_die_err(&err);
		return 0;
	}
	if (!o.base_dir)
		qt_usage_error("missing -m base_dir");
	if (!o.n_adapters)
		qt_usage_error("missing -a adapter_dir");
	if (!o.out_dir)
		qt_usage_error("missing -o out_dir");
	if (quiet)
		qt_verbosity = 1;
	else if (progress)
		qt_verbosity = 3;
	else
		qt_progress_auto();
	qt_out_cleanup_on_signal();
	struct merge_stats s;
	if (merge_run(&o, &s, &err) != QT_OK)
		qt_die_err(&err);
	if (s.nf4_base)
		qt_info(2, "%s: base is NF4: dequantized exactly (bitsandbytes dequantize_4bit), "
		        "merged, and written as a dense %s HF model", o.base_dir,
		        qt_dtype_name(s.out_dtype));
	double gb = (double)(s.bytes_read + s.bytes_written) / 1e9;
	qt_info(2, "%s %d adapter(s) into %d of %d tensors; wrote %s (%s, %.1f MB) in %.2f s, "
	        "%.2f GB/s read+write", o.unmerge ? "unmerged" : "merged", o.n_adapters,
	        s.n_merged, s.n_tensors, o.out_dir, qt_dtype_name(s.out_dtype),
	        (double)s.bytes_written / 1e6, s.seconds, s.seconds > 0 ? gb / s.seconds : 0.0);
	return 0;
}

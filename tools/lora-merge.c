/* qlora-tools: ISC license. */
/*
 * lora-merge: fold PEFT LoRA adapters into a base model (HF or NF4 directory) and write a
 * complete HF model directory; --unmerge subtracts them; --info describes one adapter.
 * All the work is in formats/merge.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/args.h"
#include "common/dtype.h"
#include "common/err.h"
#include "common/io.h"
#include "common/progress.h"
#include "formats/merge.h"

#define SYNOPSIS "usage: lora-merge [--progress] [--quiet] [--unmerge] [--dtype type] " \
                 "[-t threads] -m base_dir -a adapter_dir [--scale s] [-a adapter_dir " \
                 "[--scale s] ...] -o out_dir\n       lora-merge --info adapter_dir\n"

static void usage(FILE *fp, int status)
{
	fputs(SYNOPSIS, fp);
	if (status == 0)
		fputs("\n"
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
		      "  -t, --threads N      worker threads (default: all CPUs)\n"
		      "      --progress       show progress on stderr even when it is not a terminal\n"
		      "  -q, --quiet          no summary on stderr\n"
		      "  -h, --help           this help\n"
		      "  -V, --version        version\n", fp);
	exit(status);
}

static void usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", qt_progname);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	fputs(SYNOPSIS, stderr);
	exit(QT_EUSAGE);
}

enum { OPT_DTYPE = 256, OPT_UNMERGE, OPT_INFO, OPT_PROGRESS };

static const struct option long_opts[] = {
	{ "model",    required_argument, NULL, 'm'          },
	{ "adapter",  required_argument, NULL, 'a'          },
	{ "scale",    required_argument, NULL, 's'          },
	{ "output",   required_argument, NULL, 'o'          },
	{ "dtype",    required_argument, NULL, OPT_DTYPE    },
	{ "unmerge",  no_argument,       NULL, OPT_UNMERGE  },
	{ "info",     required_argument, NULL, OPT_INFO     },
	{ "threads",  required_argument, NULL, 't'          },
	{ "progress", no_argument,       NULL, OPT_PROGRESS },
	{ "quiet",    no_argument,       NULL, 'q'          },
	{ "help",     no_argument,       NULL, 'h'          },
	{ "version",  no_argument,       NULL, 'V'          },
	{ NULL, 0, NULL, 0 }
};

static int parse_dtype(const char *s)
{
	if (!strcmp(s, "bf16") || !strcmp(s, "bfloat16"))
		return QT_DTYPE_BF16;
	if (!strcmp(s, "f16") || !strcmp(s, "fp16") || !strcmp(s, "float16"))
		return QT_DTYPE_F16;
	if (!strcmp(s, "f32") || !strcmp(s, "fp32") || !strcmp(s, "float32"))
		return QT_DTYPE_F32;
	return -1;
}

int main(int argc, char **argv)
{
	qt_set_progname(argv[0]);
	struct merge_opts o = { .out_dtype = -1 };
	const char *info = NULL;
	int progress = 0, quiet = 0, c;
	int64_t v;
	double d;
	for (int i = 0; i < MERGE_MAX_ADAPTERS; i++)
		o.scale[i] = 1.0;
	while ((c = getopt_long(argc, argv, "m:a:s:o:t:qhV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'm': o.base_dir = optarg; break;
		case 'o': o.out_dir = optarg; break;
		case 'a':
			if (o.n_adapters == MERGE_MAX_ADAPTERS)
				usage_error("at most 16 adapters (-a %s)", optarg);
			o.adapter_dir[o.n_adapters++] = optarg;
			break;
		case 's':
			if (o.n_adapters == 0)
				usage_error("--scale %s: give it after the -a it applies to", optarg);
			if (qt_parse_double(optarg, -1e6, 1e6, &d) != 0)
				usage_error("--scale %s: not a number", optarg);
			o.scale[o.n_adapters - 1] = d;
			break;
		case OPT_DTYPE:
			if ((o.out_dtype = parse_dtype(optarg)) < 0)
				usage_error("--dtype %s: expected bf16, f16 or f32", optarg);
			break;
		case OPT_UNMERGE: o.unmerge = 1; break;
		case OPT_INFO: info = optarg; break;
		case 't':
			if (qt_parse_i64(optarg, 1, 4096, &v) != 0)
				usage_error("--threads %s: expected 1 to 4096", optarg);
			o.n_threads = (int)v;
			break;
		case OPT_PROGRESS: progress = 1; break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout, 0); break;
		case 'V': printf("lora-merge (qlora-tools) %s\n", QT_VERSION); return 0;
		default: fputs(SYNOPSIS, stderr); return QT_EUSAGE;
		}
	}
	if (optind < argc)
		usage_error("unexpected operand %s", argv[optind]);
	struct qt_err err;
	if (info) {
		if (o.base_dir || o.out_dir || o.n_adapters)
			usage_error("%s", "--info takes no other input or output");
		if (merge_info(info, stdout, &err) != QT_OK)
			qt_die_err(&err);
		if (qt_stdout_close(&err) != QT_OK)
			qt_die_err(&err);
		return 0;
	}
	if (!o.base_dir)
		usage_error("%s", "missing -m base_dir");
	if (!o.n_adapters)
		usage_error("%s", "missing -a adapter_dir");
	if (!o.out_dir)
		usage_error("%s", "missing -o out_dir");
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

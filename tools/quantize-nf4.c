/* qlora-tools: ISC license. */
/*
 * quantize-nf4: an HF Llama-family model directory in, the same model with its decoder Linear
 * weights in bitsandbytes NF4 out (nf4(5)). All the work is in jobs/quantize_nf4.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/args.h"
#include "common/err.h"
#include "common/io.h"
#include "common/progress.h"
#include "common/usage.h"
#include "jobs/quantize_nf4.h"

static const char synopsis[] =
	"usage: quantize-nf4 [--no-double-quant] [--progress] [--quiet] "
	"[-b blocksize] [-s modules] [--threads n] -o out_dir in_dir\n";

static const char help[] =
	"Quantize the q/k/v/o/gate/up/down weights of every decoder layer to NF4 exactly\n"
	"as bitsandbytes quantize_4bit(quant_type=\"nf4\") does, and write the directory\n"
	"transformers saves for a bitsandbytes 4-bit model. Embeddings, norms and\n"
	"lm_head keep their dtype; tokenizer and generation files are copied.\n\n"
	"  -o, --output DIR       output model directory (replaced atomically)\n"
	"  -b, --blocksize N      elements per absmax block: 32, 64 (default), ..., 4096\n"
	"      --no-double-quant  store absmax as float32 instead of 8-bit codes\n"
	"  -s, --skip LIST        keep Linear layers whose name contains one of these\n"
	"                         comma-separated fragments (e.g. down_proj,layers.0.)\n"
	"      --threads N        worker threads (default: all CPUs)\n"
	"      --progress         show progress on stderr even when it is not a terminal\n"
	"  -q, --quiet            no summary on stderr\n"
	"  -h, --help             this help\n"
	"  -V, --version          version\n\n"
	"Example:\n"
	"  quantize-nf4 -o models/SmolLM2-nf4 models/SmolLM2-135M-Instruct\n";

enum { OPT_NO_DQ = 256, OPT_PROGRESS, OPT_THREADS };

static const struct option long_opts[] = {
	{ "output",          required_argument, NULL, 'o'          },
	{ "blocksize",       required_argument, NULL, 'b'          },
	{ "no-double-quant", no_argument,       NULL, OPT_NO_DQ    },
	{ "skip",            required_argument, NULL, 's'          },
	{ "threads",         required_argument, NULL, OPT_THREADS  },
	{ "progress",        no_argument,       NULL, OPT_PROGRESS },
	{ "quiet",           no_argument,       NULL, 'q'          },
	{ "help",            no_argument,       NULL, 'h'          },
	{ "version",         no_argument,       NULL, 'V'          },
	{ NULL, 0, NULL, 0 }
};

int main(int argc, char **argv)
{
	qt_set_progname(argv[0]);
	qt_usage_init(synopsis, help);
	struct nf4_quantize_opts o = { .blocksize = NF4_BLOCKSIZE_DEFAULT, .double_quant = 1 };
	int progress = 0, quiet = 0, c;
	int64_t v;
	while ((c = getopt_long(argc, argv, "o:b:s:qhV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'o': o.out_dir = optarg; break;
		case 'b':
			if (qt_parse_i64(optarg, 1, 4096, &v) != 0 || !nf4_blocksize_ok((long)v))
				qt_usage_error("--blocksize: \"%s\" is not a power of two in 32..4096", optarg);
			o.blocksize = (size_t)v;
			break;
		case OPT_NO_DQ: o.double_quant = 0; break;
		case 's':
			if (!*optarg || strchr(optarg, '"') || strlen(optarg) > 1000)
				qt_usage_error("--skip: \"%s\" is not a comma-separated list of module names", optarg);
			o.skip = optarg;
			break;
		case OPT_THREADS: o.n_threads = (int)qt_arg_i64("--threads", optarg, 1, 4096); break;
		case OPT_PROGRESS: progress = 1; break;
		case 'q': quiet = 1; break;
		case 'h': qt_usage(0);
		case 'V': qt_version();
		default: qt_usage(QT_EUSAGE);
		}
	}
	if (optind == argc)
		qt_usage_error("missing in_dir");
	if (argc - optind > 1)
		qt_usage_error("unexpected operand %s", argv[optind + 1]);
	o.in_dir = argv[optind];
	if (!o.out_dir)
		qt_usage_error("missing -o out_dir");
	if (quiet)
		qt_verbosity = 1;
	else if (progress)
		qt_verbosity = 3;
	else
		qt_progress_auto();
	qt_out_cleanup_on_signal();

	struct nf4_summary s;
	struct qt_err err;
	if (nf4_quantize_dir(&o, &s, &err) != QT_OK)
		qt_die_err(&err);
	for (size_t l = 0; l < s.n_layers; l++)
		qt_info(2, "layer %zu: |w - dequant(w)| mean %.4g max %.4g", l, s.layers[l].mean_abs,
		        s.layers[l].max_abs);
	qt_info(2, "%s: %zu weights in NF4 (blocksize %zu%s), %zu tensors kept; %.1f MB -> %.1f MB "
	        "in %.2f s (%.2f GB/s of quantized input)", o.out_dir, s.n_quantized, o.blocksize,
	        o.double_quant ? ", double quantization" : "", s.n_kept, (double)s.bytes_in / 1e6,
	        (double)s.bytes_out / 1e6, s.seconds,
	        s.seconds > 0 ? (double)s.bytes_in / 1e9 / s.seconds : 0.0);
	free(s.layers);
	return 0;
}

/* qlora-tools: ISC license. */
/* lora-train: LoRA fine-tuning of a frozen Llama-family base over .pack blocks. See lora-train(1). */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/args.h"
#include "common/dist.h"
#include "common/err.h"
#include "common/progress.h"
#include "common/usage.h"
#include "jobs/lora_train.h"

static const char synopsis[] =
	"usage: lora-train -m model_dir --train file.pack [--val file.pack] -o out_dir\n"
	"           [--config file.json] [--resume dir] [--init-adapter dir]\n"
	"           [--method lora|prefix] [--virtual-tokens n] [--prefix-positions after|0]\n"
	"           [--prefix-dropout p] [--prefix-projection [--prefix-hidden n]]\n"
	"           [--target all-linear|list] [--rank r] [--alpha a] [--dropout p]\n"
	"           [--rslora] [--seed n] [--lr x]\n"
	"           [--schedule constant|linear|cosine|constant-with-warmup]\n"
	"           [--warmup-steps n | --warmup-ratio x] [--weight-decay x] [--adam-beta1 x]\n"
	"           [--adam-beta2 x] [--adam-eps x] [--max-grad-norm x] [--grad-accum n]\n"
	"           [--micro-batch n] [--max-steps n | --epochs x] [--neftune-alpha x]\n"
	"           [--shuffle] [--checkpointing | --no-checkpointing]\n"
	"           [--activation-memory size|auto] [--bf16] [--eval-every n]\n"
	"           [--eval-prompts file.jsonl [--eval-generate n] [--eval-prompt-key key]\n"
	"           [--eval-label-key key]] [--save-every n]\n"
	"           [--log-every n] [--threads n] [--device cpu|cuda|auto]\n"
	"           [--progress | --quiet] [-v]\n";

static const char help[] =
	"Train LoRA adapters on a frozen base model over packed blocks; write\n"
	"out_dir/adapter (a PEFT adapter), out_dir/log.jsonl and checkpoints. SIGINT or\n"
	"SIGTERM finishes the step, writes a checkpoint and exits 0.\n\n"
	"  -m, --model dir          base: HF model directory, float or NF4\n"
	"      --train file.pack    training blocks (pack(1))\n"
	"      --val file.pack      validation blocks: eval loss every --eval-every\n"
	"  -o, --output dir         run directory (adapter, log.jsonl, checkpoint-N)\n"
	"      --config file.json   options as a JSON object; the command line wins\n"
	"      --resume dir         continue a run or a checkpoint-N exactly\n"
	"      --init-adapter dir   start from a PEFT adapter\n"
	"      --method m           lora (default) or prefix: PEFT's prefix tuning\n"
	"                           (P-Tuning v2), a key/value prefix in every layer\n"
	"      --virtual-tokens n   prefix slots of --method prefix (default 20)\n"
	"      --prefix-positions s after (default: PEFT's, positions after the\n"
	"                           slots) or 0 (ChatGLM's P-Tuning v2: from 0)\n"
	"      --prefix-dropout p   dropout on the prefix in training (default 0;\n"
	"                           ChatGLM's 0.1)\n"
	"      --prefix-projection  train PEFT's MLP that makes the prefix\n"
	"      --prefix-hidden n    its hidden size (default: the key/value width)\n"
	"      --target t           all-linear (default) or q_proj,v_proj,...\n"
	"      --rank r             LoRA rank (default 8)\n"
	"      --alpha a            LoRA alpha (default 16; scale alpha/r)\n"
	"      --dropout p          LoRA dropout (default 0)\n"
	"      --rslora             scale alpha/sqrt(r)\n"
	"      --seed n             init, dropout and shuffle seed (default 42)\n"
	"      --lr x               learning rate (default 2e-4)\n"
	"      --schedule s         linear (default), constant, cosine,\n"
	"                           constant-with-warmup\n"
	"      --warmup-steps n     (default 0);  --warmup-ratio x: of all steps\n"
	"      --weight-decay x     AdamW weight decay (default 0)\n"
	"      --adam-beta1 x       (default 0.9);  --adam-beta2 x (default 0.999)\n"
	"      --adam-eps x         (default 1e-8)\n"
	"      --max-grad-norm x    gradient clipping (default 1.0; 0 = off)\n"
	"      --grad-accum n       micro-batches per step (default 1)\n"
	"      --micro-batch n      blocks per micro-batch (default 1)\n"
	"      --max-steps n        steps (default: --epochs over the blocks)\n"
	"      --epochs x           passes over the blocks (default 1)\n"
	"      --neftune-alpha x    NEFTune noise (default 0 = off)\n"
	"      --shuffle            reshuffle the blocks every epoch\n"
	"      --activation-memory s  bytes (K, M, G) for kept activations: attention\n"
	"                           outputs first, then whole layers; the others are\n"
	"                           recomputed (default auto: 1/8 of available\n"
	"                           memory on the CPU, 0 on a GPU)\n"
	"      --checkpointing      recompute every layer (--activation-memory 0);\n"
	"                           --no-checkpointing: keep every layer's activations\n"
	"      --bf16               the frozen base's products in bf16 (f32 sums;\n"
	"                           AVX512_BF16 where the CPU has it; CPU only)\n"
	"      --eval-every n       eval interval in steps (default 50)\n"
	"      --eval-prompts file  at each eval, gen's greedy output for these prompts\n"
	"                           scored by rouge-zh (ROUGE-1/2/L, BLEU-4) in the log\n"
	"      --eval-generate n    new tokens per eval prompt (default 128)\n"
	"      --eval-prompt-key k  prompt column (default: {\"messages\": ...} records)\n"
	"      --eval-label-key k   reference column (with --eval-prompt-key)\n"
	"      --save-every n       checkpoint interval (default 0 = the end only)\n"
	"      --log-every n        log interval (default 1)\n"
	"      --threads n          CPU threads (default: all cores)\n"
	"      --device d           cpu, cuda or auto (default auto: cuda if present)\n"
	"      --quiet              no summary;  --progress: progress on stderr\n"
	"  -v, --verbose            also notes, such as the device chosen\n"
	"  -h, --help               this help;   -V, --version: the version\n\n"
	"Example:\n"
	"  lora-train -m models/SmolLM2-135M-Instruct --train train.pack --val val.pack \\\n"
	"      -o run --rank 16 --alpha 32 --max-steps 200\n";

static const char *const schedules[] = { "constant", "linear", "cosine",
                                         "constant-with-warmup", NULL };
static const char *const devices[] = { "cpu", "cuda", "auto", NULL };

enum { O_TRAIN = 256, O_VAL, O_TARGET, O_RANK, O_ALPHA, O_RSLORA, O_SEED, O_LR, O_SCHED,
       O_WSTEPS, O_WRATIO, O_WD, O_B1, O_B2, O_EPS, O_CLIP, O_ACCUM, O_MICRO, O_STEPS, O_EPOCHS,
       O_NEFT, O_EVAL, O_SAVE, O_LOG, O_THREADS, O_PROGRESS, O_QUIET, O_HELP = 'h',
       O_VERSION = 'V', O_VERBOSE = 'v', O_INIT = 512, O_RESUME, O_DROPOUT, O_SHUFFLE, O_NOCKPT,
       O_CKPT, O_ACTMEM, O_CONFIG, O_DEVICE, O_EPROMPTS, O_EGEN, O_EPKEY, O_ELKEY, O_METHOD, O_VTOK, O_PPOS, O_PDROP, O_PPROJ, O_PHID,
       O_BF16 };

static const struct option longopts[] = {
	{ "model",         required_argument, NULL, 'm'       },
	{ "output",        required_argument, NULL, 'o'       },
	{ "train",         required_argument, NULL, O_TRAIN   },
	{ "val",           required_argument, NULL, O_VAL     },
	{ "init-adapter",  required_argument, NULL, O_INIT    },
	{ "config",        required_argument, NULL, O_CONFIG  },
	{ "resume",        required_argument, NULL, O_RESUME  },
	{ "dropout",       required_argument, NULL, O_DROPOUT },
	{ "shuffle",       no_argument,       NULL, O_SHUFFLE },
	{ "no-checkpointing", no_argument,    NULL, O_NOCKPT  },
	{ "checkpointing", no_argument,       NULL, O_CKPT    },
	{ "activation-memory", required_argument, NULL, O_ACTMEM },
	{ "bf16",          no_argument,       NULL, O_BF16    },
	{ "method",        required_argument, NULL, O_METHOD  },
	{ "virtual-tokens", required_argument, NULL, O_VTOK   },
	{ "prefix-positions", required_argument, NULL, O_PPOS },
	{ "prefix-dropout", required_argument, NULL, O_PDROP  },
	{ "prefix-projection", no_argument,   NULL, O_PPROJ  },
	{ "prefix-hidden", required_argument, NULL, O_PHID   },
	{ "target",        required_argument, NULL, O_TARGET  },
	{ "rank",          required_argument, NULL, O_RANK    },
	{ "alpha",         required_argument, NULL, O_ALPHA   },
	{ "rslora",        no_argument,       NULL, O_RSLORA  },
	{ "seed",          required_argument, NULL, O_SEED    },
	{ "lr",            required_argument, NULL, O_LR      },
	{ "schedule",      required_argument, NULL, O_SCHED   },
	{ "warmup-steps",  required_argument, NULL, O_WSTEPS  },
	{ "warmup-ratio",  required_argument, NULL, O_WRATIO  },
	{ "weight-decay",  required_argument, NULL, O_WD      },
	{ "adam-beta1",    required_argument, NULL, O_B1      },
	{ "adam-beta2",    required_argument, NULL, O_B2      },
	{ "adam-eps",      required_argument, NULL, O_EPS     },
	{ "max-grad-norm", required_argument, NULL, O_CLIP    },
	{ "grad-accum",    required_argument, NULL, O_ACCUM   },
	{ "micro-batch",   required_argument, NULL, O_MICRO   },
	{ "max-steps",     required_argument, NULL, O_STEPS   },
	{ "epochs",        required_argument, NULL, O_EPOCHS  },
	{ "neftune-alpha", required_argument, NULL, O_NEFT    },
	{ "eval-every",    required_argument, NULL, O_EVAL    },
	{ "eval-prompts",  required_argument, NULL, O_EPROMPTS },
	{ "eval-generate", required_argument, NULL, O_EGEN    },
	{ "eval-prompt-key", required_argument, NULL, O_EPKEY },
	{ "eval-label-key", required_argument, NULL, O_ELKEY  },
	{ "save-every",    required_argument, NULL, O_SAVE    },
	{ "log-every",     required_argument, NULL, O_LOG     },
	{ "threads",       required_argument, NULL, O_THREADS },
	{ "device",        required_argument, NULL, O_DEVICE  },
	{ "progress",      no_argument,       NULL, O_PROGRESS },
	{ "quiet",         no_argument,       NULL, O_QUIET   },
	{ "verbose",       no_argument,       NULL, O_VERBOSE },
	{ "help",          no_argument,       NULL, O_HELP    },
	{ "version",       no_argument,       NULL, O_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* --activation-memory: a byte count (K, M, G, T suffixes) or auto (-1). */
static long long activation_memory(const char *s)
{
	int64_t v;
	if (strcmp(s, "auto") == 0)
		return -1;
	if (qt_parse_size(s, &v) != 0)
		qt_usage_error("--activation-memory: \"%s\" is not a size (such as 512M or 2G) "
		               "or auto", s);
	return v;
}

static volatile sig_atomic_t stop_flag;
static char **volatile config_argv; /* the vector built from --config, kept (reachable) */

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

int main(int argc, char **argv)
{
	qt_set_progname(argv[0]);
	qt_progress_auto();
	qt_usage_init(synopsis, help);
	struct qt_err err = { 0 };
	/* --config: its keys become options placed before the command line's, which win. */
	for (int i = 1; i < argc; i++) {
		const char *cf = !strcmp(argv[i], "--config") && i + 1 < argc ? argv[i + 1]
		               : !strncmp(argv[i], "--config=", 9) ? argv[i] + 9 : NULL;
		if (cf && train_config_args(cf, &argc, &argv, &err) != QT_OK)
			qt_die_err(&err);
		if (cf)
			config_argv = argv;
		if (cf)
			break;
	}
	/* Defaults: HF TrainingArguments / PEFT LoraConfig (reference.md 7.1), lr of QLoRA. */
	struct train_opts o = {
		.targets = "all-linear", .rank = 8, .alpha = 16, .seed = 42, .lr = 2e-4,
		.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0, .max_grad_norm = 1.0,
		.schedule = TRAIN_LINEAR, .warmup_steps = -1, .warmup_ratio = 0, .grad_accum = 1,
		.micro_batch = 1, .epochs = 1, .eval_every = 50, .log_every = 1, .eval_generate = 128,
		.prefix_pos0 = -1, .act_memory = -1,
	};
	static const char *const methods[] = { "lora", "prefix", NULL };
	static const char *const positions[] = { "after", "0", NULL };
	int c, method = 0, vtok = 20, prefix_only = 0;
	while ((c = getopt_long(argc, argv, "m:o:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': o.model_dir = optarg; break;
		case 'o': o.out_dir = optarg; break;
		case O_TRAIN: o.train_pack = optarg; break;
		case O_VAL: o.val_pack = optarg; break;
		case O_INIT: o.init_adapter = optarg; break;
		case O_CONFIG: break;
		case O_RESUME: o.resume = optarg; break;
		case O_DROPOUT: o.dropout = qt_arg_double("--dropout", optarg, 0, 0.999999); break;
		case O_SHUFFLE: o.shuffle = 1; break;
		case O_BF16: o.bf16 = 1; break;
		case O_NOCKPT: o.act_memory = INT64_MAX; break;
		case O_CKPT: o.act_memory = 0; break;
		case O_ACTMEM: o.act_memory = activation_memory(optarg); break;
		case O_METHOD: method = qt_arg_word("--method", optarg, methods); break;
		case O_VTOK: vtok = (int)qt_arg_i64("--virtual-tokens", optarg, 1, 65536); break;
		case O_PPOS:
			o.prefix_pos0 = qt_arg_word("--prefix-positions", optarg, positions);
			prefix_only = prefix_only ? prefix_only : O_PPOS;
			break;
		case O_PDROP:
			o.prefix_dropout = qt_arg_double("--prefix-dropout", optarg, 0, 0.999999);
			prefix_only = prefix_only ? prefix_only : O_PDROP;
			break;
		case O_PPROJ:
			o.prefix_projection = 1;
			prefix_only = prefix_only ? prefix_only : O_PPROJ;
			break;
		case O_PHID:
			o.prefix_hidden = (int)qt_arg_i64("--prefix-hidden", optarg, 1, 1 << 16);
			break;
		case O_TARGET: o.targets = optarg; break;
		case O_RANK: o.rank = (int)qt_arg_i64("--rank", optarg, 1, 4096); break;
		case O_ALPHA: o.alpha = qt_arg_double("--alpha", optarg, 1e-9, 1e9); break;
		case O_RSLORA: o.rslora = 1; break;
		case O_SEED: o.seed = qt_arg_u64("--seed", optarg); break;
		case O_LR: o.lr = qt_arg_double("--lr", optarg, 0, 10); break;
		case O_SCHED: /* the words in enum train_schedule's order */
			o.schedule = (enum train_schedule)qt_arg_word("--schedule", optarg, schedules);
			break;
		case O_WSTEPS: o.warmup_steps = qt_arg_i64("--warmup-steps", optarg, 0, 1L << 40); break;
		case O_WRATIO: o.warmup_ratio = qt_arg_double("--warmup-ratio", optarg, 0, 1); break;
		case O_WD: o.weight_decay = qt_arg_double("--weight-decay", optarg, 0, 10); break;
		case O_B1: o.beta1 = qt_arg_double("--adam-beta1", optarg, 0, 0.999999); break;
		case O_B2: o.beta2 = qt_arg_double("--adam-beta2", optarg, 0, 0.999999999); break;
		case O_EPS: o.eps = qt_arg_double("--adam-eps", optarg, 0, 1); break;
		case O_CLIP: o.max_grad_norm = qt_arg_double("--max-grad-norm", optarg, 0, 1e9); break;
		case O_ACCUM: o.grad_accum = (int)qt_arg_i64("--grad-accum", optarg, 1, 1 << 20); break;
		case O_MICRO: o.micro_batch = (int)qt_arg_i64("--micro-batch", optarg, 1, 1 << 20); break;
		case O_STEPS: o.max_steps = qt_arg_i64("--max-steps", optarg, 1, 1L << 40); break;
		case O_EPOCHS: o.epochs = qt_arg_double("--epochs", optarg, 1e-9, 1e6); break;
		case O_NEFT: o.neftune_alpha = qt_arg_double("--neftune-alpha", optarg, 0, 1e6); break;
		case O_EVAL: o.eval_every = qt_arg_i64("--eval-every", optarg, 1, 1L << 40); break;
		case O_EPROMPTS: o.eval_prompts = optarg; break;
		case O_EGEN:
			o.eval_generate = (int)qt_arg_i64("--eval-generate", optarg, 1, 1 << 20);
			break;
		case O_EPKEY: o.eval_prompt_key = optarg; break;
		case O_ELKEY: o.eval_label_key = optarg; break;
		case O_SAVE: o.save_every = qt_arg_i64("--save-every", optarg, 0, 1L << 40); break;
		case O_LOG: o.log_every = qt_arg_i64("--log-every", optarg, 1, 1L << 40); break;
		case O_THREADS: o.threads = (int)qt_arg_i64("--threads", optarg, 1, 1024); break;
		case O_DEVICE: o.device = devices[qt_arg_word("--device", optarg, devices)]; break;
		case O_PROGRESS: qt_verbosity = 3; break;
		case O_QUIET: qt_verbosity = 1; break;
		case O_VERBOSE: qt_verbosity = 4; break;
		case O_HELP: qt_usage(0);
		case O_VERSION: qt_version();
		default: qt_usage(QT_EUSAGE);
		}
	}
	if (optind != argc)
		qt_usage_error("unexpected operand");
	if (!o.model_dir || !o.train_pack || (!o.out_dir && !o.resume))
		qt_usage_error("-m, --train and -o (or --resume) are required");
	/* each alone may be large, not both: a step's block list is allocated */
	if ((int64_t)o.micro_batch * o.grad_accum > 1 << 20)
		qt_usage_error("--micro-batch %d x --grad-accum %d: more than %d blocks a step",
		               o.micro_batch, o.grad_accum, 1 << 20);
	if (method == 1)
		o.prefix = vtok;
	if (method != 1 && prefix_only)
		qt_usage_error("%s needs --method prefix", prefix_only == O_PPOS ? "--prefix-positions"
		               : prefix_only == O_PDROP ? "--prefix-dropout" : "--prefix-projection");
	if (o.prefix_hidden && !o.prefix_projection)
		qt_usage_error("--prefix-hidden needs --prefix-projection");
	if (method == 1 && o.dropout > 0)
		qt_usage_error("--dropout: LoRA dropout does not apply to --method prefix");
	if (o.eval_label_key && !o.eval_prompt_key)
		qt_usage_error("--eval-label-key needs --eval-prompt-key");
	if (o.eval_prompt_key && !o.eval_label_key)
		qt_usage_error("--eval-prompt-key needs --eval-label-key (the reference answers)");
	/* The first SIGINT/SIGTERM asks for a checkpoint; a second one ends the process. */
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESETHAND };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	o.stop = &stop_flag;
	/* Under mpirun: one rank of a data-parallel job. Its messages name the rank; only rank 0
	 * reports progress and the summary. */
	static char name[64];
	if (dist_init(&err) != QT_OK)
		qt_die_err(&err);
	if (dist_size() > 1) {
		snprintf(name, sizeof name, "%s: rank %d", qt_progname, dist_rank());
		qt_progname = name;
		if (dist_rank() != 0 && qt_verbosity > 1)
			qt_verbosity = 1;
	}
	struct train_stats st;
	if (train_run(&o, &st, &err) != QT_OK) {
		if (err.msg[0])
			fprintf(stderr, "%s: %s\n", qt_progname, err.msg);
		if (st.failed_alone)
			dist_abort(err.status); /* the others are inside a step: end the job */
		dist_finalize();
		return err.status;
	}
	dist_finalize();
	if (st.interrupted && dist_rank() == 0)
		qt_info(1, "interrupted: checkpoint-%ld written; continue with --resume", st.steps);
	char eval[96] = "";  /* no eval loss without --val */
	if (!isnan(st.final_eval_loss))
		snprintf(eval, sizeof eval, ", eval loss %.4f", st.final_eval_loss);
	if (!isnan(st.final_eval_scores[2]))
		snprintf(eval + strlen(eval), sizeof eval - strlen(eval), ", eval rouge-l %.2f",
		         st.final_eval_scores[2]);
	qt_info(2, "%ld steps in %.1f s, %.1f tokens/s (%.1f trained), final loss %.4f%s, "
	        "workspace %.1f MiB (%d of %d layers' activations kept%s), peak RSS %.1f MiB",
	        st.steps - st.resumed_from, st.seconds, st.input_tokens_per_s, st.tokens_per_s,
	        st.final_loss, eval, st.activation_bytes / 1048576.0, st.kept_layers, st.n_layers,
	        st.kept_attention ? ", and the others' attention outputs" : "",
	        st.peak_rss_kib / 1024.0);
	long n = st.steps - st.resumed_from;
	if (dist_size() > 1 && n > 0)
		qt_info(2, "%d ranks: all-reduce %.1f ms per step (%.1f%% of the step, waiting for "
		        "the slowest rank included)", dist_size(), 1e3 * st.reduce_seconds / n,
		        st.seconds > 0 ? 100 * st.reduce_seconds / st.seconds : 0.0);
	return 0;
}

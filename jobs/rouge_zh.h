/* qlora-tools: ISC license. */
/*
 * The rouge-zh tool's library entry: reads (prediction, label) pairs from a JSONL file or two
 * line-aligned text files, scores every pair as ChatGLM's compute_metrics does (chatglm.h) on
 * n threads, averages, and writes the metrics JSON (and optionally per-sample JSONL). See
 * rouge-zh(1).
 */
#ifndef QT_JOBS_ROUGE_ZH_H
#define QT_JOBS_ROUGE_ZH_H

#include "common/err.h"
#include "common/pyfloat.h"
#include "metrics/chatglm.h"

struct rouge_zh_opts {
	const char        *input;        /* JSONL ("-" = stdin); NULL in two-file mode */
	const char        *hyp, *ref;    /* two-file mode: one text per line */
	const char        *predict_key;  /* default "predict" */
	const char        *label_key;    /* default "labels" */
	enum chatglm_empty empty;
	enum py_mean       mean;
	int                char_mode;    /* score characters instead of jieba words */
	const char        *dict;         /* NULL: jieba_default_dir()/dict.txt */
	const char        *jieba_dir;    /* NULL: jieba_default_dir() (HMM tables in finalseg/) */
	const char        *per_sample;   /* JSONL of per-sample scores, or NULL */
	const char        *output;       /* metrics JSON; "-" = stdout */
	int                threads;      /* <= 0: all CPUs */
};

/* Runs everything; QT_OK or a status with err set ("file:line: what"). No partial output is
 * left behind on failure. */
int rouge_zh_run(const struct rouge_zh_opts *o, struct qt_err *err);

#endif

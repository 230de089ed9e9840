/* qlora-tools: ISC license. */
/* .tok stream: round trip, and one corrupt-file case per reader check. */
#include "formats/tok.h"
#include "common/io.h"

#include <unistd.h>

#include "common/le.h"
#include "test.h"

static const char *tmp_path = "/tmp/qt_test_tok.tok";

static size_t write_sample(uint8_t **out)
{
	struct tok_header h = { .tokenizer_fingerprint = 0x1234, .vocab_size = 100, .eos_id = 2,
	                        .pad_id = TOK_ID_NONE };
	FILE *fp = fopen(tmp_path, "wb");
	struct tok_writer w;
	struct qt_err err;
	tok_writer_open(&w, fp, tmp_path, &h, &err);
	for (uint32_t k = 1; k <= 5; k++) {
		uint32_t ids[8];
		uint8_t mask[8];
		for (uint32_t i = 0; i < k; i++) {
			ids[i] = 10 * k + i;
			mask[i] = i % 2;
		}
		tok_writer_put(&w, ids, mask, k, &err);
	}
	tok_writer_finish(&w, &err);
	fclose(fp);
	char *buf;
	size_t len;
	qt_read_file(tmp_path, &buf, &len, &err);
	*out = (uint8_t *)buf;
	return len;
}

/* Reads tmp_path fully; returns the status and leaves the message in err. */
static int read_all(struct qt_err *err, uint32_t *n_records)
{
	struct tok_reader r;
	int st = tok_reader_open(&r, tmp_path, err);
	*n_records = 0;
	if (st == QT_OK) {
		struct tok_record rec;
		int rc;
		while ((rc = tok_reader_next(&r, &rec, err)) == 1) {
			int ok = 1;
			for (uint32_t i = 0; i < rec.n; i++)
				ok &= rec.ids[i] == 10 * rec.n + i && rec.mask[i] == i % 2;
			if (!ok || rec.n != *n_records + 1)
				return -2;
			(*n_records)++;
		}
		st = rc < 0 ? err->status : QT_OK;
	}
	tok_reader_close(&r);
	return st;
}

static void put(const uint8_t *b, size_t n)
{
	FILE *fp = fopen(tmp_path, "wb");
	fwrite(b, 1, n, fp);
	fclose(fp);
}

int main(void)
{
	uint8_t *good;
	size_t len = write_sample(&good);
	struct qt_err err;
	uint32_t n;
	CHECK(read_all(&err, &n) == QT_OK && n == 5, "round trip: %s", err.msg);

	struct { const char *name; size_t off; uint8_t xor; size_t cut; const char *msg; } cases[] = {
		{ "bad magic",         0,        0x20, 0,  "bad magic" },
		{ "future version",    8,        0x02, 0,  "unsupported version" },
		{ "header_size small", 12,       0x40, 0,  "header_size" },
		{ "unknown flag",      16,       0x01, 0,  "unknown flags" },
		{ "truncated header",  0,        0,    50, "truncated header" },
		{ "truncated payload", 0,        0,    70, "truncated" },
		{ "bad checksum",      64 + 9,   0x01, 0,  "checksum" },
		{ "id out of vocab",   64 + 4,   0x80, 0,  ">= vocab size" },
		{ "bad trailer",       0,        0,    1,  "truncated trailer" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		uint8_t *b = malloc(len);
		memcpy(b, good, len);
		size_t n_out = len;
		if (cases[i].cut)
			n_out = cases[i].cut == 1 ? len - 3 : cases[i].cut;
		else
			b[cases[i].off] ^= cases[i].xor;
		put(b, n_out);
		err.msg[0] = 0;
		int st = read_all(&err, &n);
		CHECK(st == QT_EDATA && strstr(err.msg, cases[i].msg), "%s: status %d, message '%s'",
		      cases[i].name, st, err.msg);
		free(b);
	}
	free(good);
	unlink(tmp_path);
	return test_main_end();
}
